"""Secrets outside Secrets (issue 22, item 11).

Before: a PEM private key in a ConfigMap and literal ``DB_PASSWORD`` env values went to git in
clear with no finding; a ``List`` wrapping a Secret and kind ``Secret`` + zero-width space passed
the secrets policy. Now: look-alike kinds and lists holding a Secret fall under the secrets
policy (``cleaning.secret``), and credentials in ConfigMaps and env raise ``credential-in-clear``
(``core.drift``), a finding that names the key and never the value.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from backup2gitops.core import kube_yaml
from backup2gitops.core.cleaning import CleaningPolicy, prepare
from tests.git_repos import git_dir_output
from tests.hostile.flow import BASE, Flow

VALUE = "pa55-w0rd-never-in-git"
ENCODED = base64.b64encode(VALUE.encode()).decode()
LOOK_ALIKES = [
    "Secret\u200b",
    "\u200bSecret",
    "secret",
    "SECRET",
    " Secret ",
    "Sec\u200dret",
    "\uff33ecret",
]


def secret(kind: str = "Secret") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": kind,
        "metadata": {"name": "db", "namespace": "shop"},
        "data": {"password": ENCODED},
        "stringData": {"plain": VALUE},
    }


def written(obj: dict[str, Any], policy: str) -> str | None:
    prepared = prepare(obj, policy=CleaningPolicy(secrets=policy))  # type: ignore[arg-type]
    return None if prepared.object is None else kube_yaml.dump(prepared.object)


@pytest.mark.parametrize("kind", LOOK_ALIKES)
def test_a_look_alike_kind_is_excluded_like_a_secret(kind: str) -> None:
    assert prepare(secret(kind)).excluded == "policy: secrets are excluded"


@pytest.mark.parametrize("kind", LOOK_ALIKES)
def test_a_look_alike_kind_is_redacted_like_a_secret(kind: str) -> None:
    text = written(secret(kind), "redact")
    assert text is not None and VALUE not in text and ENCODED not in text


@pytest.mark.parametrize("policy", ["exclude", "redact"])
def test_a_list_wrapping_a_secret_never_carries_its_values(policy: str) -> None:
    wrapped = {
        "apiVersion": "v1",
        "kind": "List",
        "metadata": {"name": "bundle"},
        "items": [
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "c"},
                "data": {"a": "b"},
            },
            secret(),
            {"apiVersion": "v1", "kind": "List", "items": [secret("secret\u200b")]},
        ],
    }
    text = written(wrapped, policy)
    assert text is not None and VALUE not in text and ENCODED not in text
    assert "a: b" in text  # what is no Secret is left as it is


def test_plaintext_keeps_what_it_is_told_to_keep() -> None:
    text = written(secret("Secret\u200b"), "plaintext")
    assert text is not None and VALUE in text


CREDENTIALS: list[tuple[str, str | None, str, dict[str, Any]]] = [
    (
        "configmaps",
        "shop",
        "tls",
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "tls", "namespace": "shop"},
            "data": {
                "server.key": "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n"
                "-----END PRIVATE KEY-----\n",
                "DB_PASSWORD": VALUE,
            },
        },
    ),
    (
        "deployments.apps",
        "shop",
        "web",
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "shop"},
            "spec": {
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {
                        "containers": [
                            {
                                "name": "app",
                                "image": "web:1",
                                "env": [
                                    {"name": "DB_PASSWORD", "value": VALUE},
                                    {"name": "AWS_ACCESS_KEY_ID", "value": "AKIAIOSFODNN7EXAMPLE"},
                                ],
                            }
                        ]
                    },
                },
            },
        },
    ),
    ("secret\u200bs", "shop", "db", secret("Secret\u200b")),
]


def test_credentials_in_configmaps_and_env_are_findings_that_never_quote_them(
    tmp_path: Path,
) -> None:
    flow = Flow(tmp_path)
    flow.backup(BASE)
    flow.backup([*BASE, *CREDENTIALS])
    found = [(f.rule, f.kind, f.name, f.severity) for f in flow.findings()]
    assert found == [
        ("credential-in-clear", "ConfigMap", "tls", "critical"),
        ("credential-in-clear", "ConfigMap", "tls", "critical"),
        ("credential-in-clear", "Deployment", "web", "critical"),
        ("credential-in-clear", "Deployment", "web", "critical"),
    ]
    summaries = " ".join(f.summary for f in flow.findings())
    assert "PEM private key" in summaries and "DB_PASSWORD" in summaries
    assert VALUE not in summaries and "AKIAIOSFODNN7EXAMPLE" not in summaries
    history = flow.history()
    assert ENCODED not in history  # the look-alike Secret never reached git
    assert not any("secret" in path for path in flow.files())


def test_the_commit_message_lists_credentials_in_clear_by_place_never_by_value(
    tmp_path: Path,
) -> None:
    """The commit that brings them says where they are, so the reviewer sees them even where no
    drift alert is routed; the values never reach the message."""
    flow = Flow(tmp_path)
    flow.backup([*BASE, *CREDENTIALS])
    messages = git_dir_output(flow.remote, "log", "--format=%B")
    assert "Credentials in clear (4; put them in Secrets):" in messages
    assert "ConfigMap shop/tls: data key" in messages and "DB_PASSWORD" in messages
    assert VALUE not in messages and "AKIAIOSFODNN7EXAMPLE" not in messages
