"""``backup2gitops status``: the facts of ``/status`` as a table or JSON, measured or fetched."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from backup2gitops.cli import main
from backup2gitops.cli.status import duration, render
from tests.git_repos import bare_repository
from tests.recording import Recorder

BODY = {
    "status": "degraded",
    "checked_at": "2026-03-02T12:00:00+00:00",
    "components": {
        "storage": {"status": "healthy", "latency_ms": 1.4, "message": "bucket reachable"},
        "freshness/prod": {"status": "degraded", "latency_ms": 0, "message": "stale"},
    },
    "clusters": {
        "prod": {
            "last_backup": {"id": "b7", "completed_at": "2026-03-01T09:30:00+00:00"},
            "last_commit": {
                "commit": "0123456789abcdef" * 2 + "01234567",
                "backup_id": "b7",
                "committed_at": "2026-03-01T09:31:00+00:00",
            },
            "lag_s": 0.0,
            "stale": True,
            "max_backup_age": "PT26H",
        },
        "stage": {
            "last_backup": None,
            "last_commit": None,
            "lag_s": None,
            "stale": True,
            "max_backup_age": "PT26H",
        },
    },
}


def test_table_measures_ages_against_the_report_not_the_clock() -> None:
    text = render(BODY)
    assert text.splitlines()[0] == "overall: degraded (checked 2026-03-02T12:00:00+00:00)"
    prod = next(line for line in text.splitlines() if line.startswith("prod "))
    assert prod.split() == [
        "prod",
        "b7",
        "1d2h30m",
        "PT26H",
        "yes",
        "0123456789ab",
        "(b7)",
        "0s",
        "0",
        "0",
    ]
    stage = next(line for line in text.splitlines() if line.startswith("stage"))
    assert stage.split() == ["stage", "-", "-", "PT26H", "yes", "-", "-", "0", "0"]
    assert duration(93_784) == "1d2h3m" and duration(42) == "42s" and duration(None) == "-"


def test_url_reads_a_deployed_status(
    recorder: Recorder, capsys: pytest.CaptureFixture[str]
) -> None:
    recorder.reply(
        "/status", (200, json.dumps(BODY)), (503, json.dumps({**BODY, "status": "unhealthy"}))
    )
    assert main(["status", "--url", recorder.url, "-o", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == BODY
    assert main(["status", "--url", recorder.url]) == 1  # unhealthy: exit 1, still printed
    assert "overall: unhealthy" in capsys.readouterr().out


def test_url_sends_the_status_token_and_asks_for_json(
    recorder: Recorder, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    recorder.reply("/status", (200, json.dumps(BODY)), (200, json.dumps(BODY)))
    assert main(["status", "--url", recorder.url, "-o", "json"]) == 0
    plain = recorder.to("/status")[0].headers
    assert "Authorization" not in plain and plain["Accept"] == "application/json"
    monkeypatch.setenv("BACKUP2GITOPS_STATUS_TOKEN", "tok-123")
    assert main(["status", "--url", recorder.url, "-o", "json"]) == 0
    assert recorder.to("/status")[1].headers["Authorization"] == "Bearer tok-123"
    assert "tok-123" not in capsys.readouterr().out


def test_measured_here_from_the_configuration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    remote = tmp_path / "remote.git"
    bare_repository(remote)
    (tmp_path / "bucket").mkdir()
    config = {
        "storage": {"url": (tmp_path / "bucket").as_uri()},
        "git": {"url": str(remote), "cache_dir": str(tmp_path / "cache")},
        "clusters": [{"name": "prod"}],
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    monkeypatch.setenv("BACKUP2GITOPS_CACHE_DIR", str(tmp_path / "cache"))
    main(["status", "--config", str(path), "--json"])
    body = json.loads(capsys.readouterr().out)
    assert body["clusters"]["prod"]["last_backup"] is None
    assert body["clusters"]["prod"]["stale"] is True
    assert {"storage", "git", "freshness/prod"} <= set(body["components"])
    main(["status", "--config", str(path)])
    table = capsys.readouterr().out
    assert any(line.split()[:2] == ["prod", "-"] and "yes" in line for line in table.splitlines())


def test_no_status_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "--url", "http://127.0.0.1:9"]) == 2
    assert capsys.readouterr().err.startswith("status: ")


def test_a_lambda_function_url_is_signed_with_sigv4(monkeypatch: pytest.MonkeyPatch) -> None:
    """template.yaml's Function URL is AWS_IAM: `status --url` signs its GET (botocore's SigV4,
    service lambda, the URL's region) with the caller's credentials instead of a bearer token."""
    from backup2gitops.adapters.aws_signing import function_url_region
    from backup2gitops.cli.status import fetch
    from tests.recording import recording_server

    assert function_url_region("https://abcdefg.lambda-url.eu-west-1.on.aws/") == "eu-west-1"
    assert function_url_region("https://health.example.com/") is None
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDSTATUSTEST")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "session")
    with recording_server() as server:
        server.reply("/status", (200, b'{"status": "healthy"}'))
        assert fetch(server.url, token="ignored", sigv4_region="eu-west-1") == {"status": "healthy"}
    (request,) = server.requests
    auth = request.headers["Authorization"]
    assert auth.startswith("AWS4-HMAC-SHA256 Credential=AKIDSTATUSTEST/")
    assert "/eu-west-1/lambda/aws4_request" in auth and "Signature=" in auth
    assert request.headers["X-Amz-Security-Token"] == "session"
    assert "X-Amz-Date" in request.headers
