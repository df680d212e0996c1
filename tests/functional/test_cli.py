"""The CLI shell: `config validate`, `schemas`, and the verbs it assembles."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from backup2gitops.cli import VERBS, build_parser, main


def test_every_verb_is_registered() -> None:
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "verb")
    assert set(subparsers.choices) == {  # type: ignore[attr-defined]
        "demo",
        "serve",
        "generate",
        "backup",
        "neat",
        "config",
        "schemas",
        "status",
        "completion",
    }
    assert len(VERBS) == 9


def test_config_validate_accepts_a_good_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("storage: {url: 's3://backups'}\nclusters: [{name: prod}]\n")
    assert main(["config", "validate", str(path)]) == 0
    out = capsys.readouterr().out
    assert "valid" in out and "s3://backups" in out and "prod" in out


def test_config_validate_names_the_field_and_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("git: {push_attempts: 0}\nalerts: {receivers: [{name: 'bad name', type: x}]}\n")
    assert main(["config", "validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "git.push_attempts" in err and "alerts.receivers[0].name" in err


def test_config_validate_never_echoes_a_secret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MY_TOKEN", "sup3r-s3cret")
    path = tmp_path / "c.yaml"
    path.write_text("git: {token: {env: MY_TOKEN}, url: 'https://git.example.com/r.git'}\n")
    assert main(["config", "validate", str(path)]) == 0
    assert "sup3r-s3cret" not in capsys.readouterr().out


def test_schemas_writes_one_file_per_event_type(tmp_path: Path) -> None:
    assert main(["schemas", "--out", str(tmp_path)]) == 0
    names = sorted(p.name for p in tmp_path.glob("*.json"))
    assert "io.backup2gitops.backup.completed.json" in names and "status.schema.json" in names
    assert len(names) == 12  # nine event types, the envelope, the configuration, /status
    config_schema = json.loads((tmp_path / "config.schema.json").read_text())
    assert config_schema["additionalProperties"] is False  # typos are errors, as in the loader
    schema = json.loads((tmp_path / "io.backup2gitops.gitops.generated.json").read_text())
    assert {"backup_id", "cluster", "commit", "noop"} <= set(schema["properties"])


def test_serve_refuses_an_invalid_configuration_before_starting_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("generator: {cleaning: {secrets: encrypt}}\n")
    monkeypatch.setenv("BACKUP2GITOPS_CONFIG", str(path))
    assert main(["serve", "--port", "1"]) == 2
    assert "generator.cleaning.secrets: must be one of" in capsys.readouterr().err


def test_serve_refuses_backup_complete_without_a_webhook_token(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("BACKUP2GITOPS_CONFIG", raising=False)
    monkeypatch.delenv("BACKUP2GITOPS_WEBHOOK_TOKEN", raising=False)
    assert main(["serve", "--function", "backup-complete"]) == 2  # before exec'ing anything
    assert "allow_unauthenticated" in capsys.readouterr().err


def test_serve_refuses_a_trigger_whose_subscriber_is_not_served(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """On Knative such a Trigger is never Ready and its events are skipped without a trace
    (measured on v0.50: no 404, no retry, no dead letter, the producer gets 202)."""
    import shutil

    triggers = tmp_path / "triggers"
    shutil.copytree(Path(__file__).resolve().parents[2] / "triggers", triggers)
    (triggers / "typo.yaml").write_text(
        "apiVersion: eventing.knative.dev/v1\nkind: Trigger\nmetadata: {name: typo}\n"
        "spec:\n  broker: backup2gitops\n  filters: [{exact: {type: x}}]\n"
        "  subscriber: {ref: {apiVersion: serving.knative.dev/v1, kind: Service, "
        "name: gitops-generater}}\n"
    )
    monkeypatch.setenv("BACKUP2GITOPS_WEBHOOK_TOKEN", "t")
    monkeypatch.delenv("BACKUP2GITOPS_CONFIG", raising=False)
    assert main(["serve", "--port", "1", "--triggers", str(triggers)]) == 2
    assert "typo -> gitops-generater" in capsys.readouterr().err


def test_serve_workdir_says_it_accepts_unauthenticated_webhooks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from backup2gitops.cli import serve

    monkeypatch.delenv("BACKUP2GITOPS_WEBHOOK_TOKEN", raising=False)
    env = {"PATH": "/usr/bin", **serve.prepare_workdir(tmp_path)}
    assert serve.refuses_to_start(["backup-complete", "gitops-generator"], env) is None
    assert "backup-complete: accepting webhooks without a token" in capsys.readouterr().err


MAIN = Path(__file__).resolve().parents[2] / "functions" / "main.py"


@pytest.mark.parametrize(
    ("extra", "starts"),
    [
        ({}, False),
        ({"BACKUP2GITOPS_WEBHOOK_TOKEN": "t"}, True),
        ({"BACKUP2GITOPS__BACKUP_COMPLETE__ALLOW_UNAUTHENTICATED": "true"}, True),
    ],
)
def test_the_image_source_refuses_to_load_backup_complete_without_a_token(
    extra: dict[str, str], starts: bool
) -> None:
    """functions-framework imports main.py first: a ConfigError there stops it starting."""
    import os
    import subprocess
    import sys

    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("BACKUP2GITOPS") and k != "FUNCTION_TARGET"
    }
    env |= {"FUNCTION_TARGET": "backup_complete", "PYTHONPATH": str(MAIN.parent), **extra}
    result = subprocess.run(
        [sys.executable, "-c", "import runpy, sys; runpy.run_path(sys.argv[1])", str(MAIN)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert (result.returncode == 0) is starts, result.stderr[-2000:]
    if not starts:
        assert "ConfigError" in result.stderr and "allow_unauthenticated" in result.stderr
