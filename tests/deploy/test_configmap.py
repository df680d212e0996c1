"""The configuration shipped in knative/ is one the functions actually accept."""

from __future__ import annotations

from pathlib import Path

from backup2gitops.adapters.receivers.registry import build_receivers
from backup2gitops.config import parse_config
from backup2gitops.core.cleaning import CleaningPolicy

ROOT = Path(__file__).resolve().parents[2]


def shipped_config_text() -> str:
    # the file knative/base/kustomization.yaml's configMapGenerator makes the ConfigMap of
    return (ROOT / "knative/base/config.yaml").read_text()


def test_the_configmap_validates_and_holds_no_credentials() -> None:
    text = shipped_config_text()
    env = {
        "BACKUP2GITOPS_SLACK_WEBHOOK_URL": "https://hooks.slack.invalid/x",
        "BACKUP2GITOPS_PAGERDUTY_ROUTING_KEY": "k" * 32,
    }
    config = parse_config(text, env)
    CleaningPolicy.model_validate(config.generator.cleaning)
    receivers = build_receivers(config.alerts, environ=env)
    assert set(receivers) == {"alertmanager", "slack", "pagerduty"}
    assert config.storage.access_key.env == "AWS_ACCESS_KEY_ID"
    for needle in ("password", "secret_key:", "token:"):
        for line in text.splitlines():
            if needle in line:
                assert "{env:" in line or "{file:" in line, line
