"""Each HTTP receiver against a local server that checks the shape its service documents."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from backup2gitops.adapters.receivers import ReceiverError, build_receivers
from backup2gitops.adapters.receivers import webhook as webhook_module
from backup2gitops.adapters.receivers.alertmanager import AlertmanagerReceiver
from backup2gitops.adapters.receivers.console import ConsoleReceiver
from backup2gitops.adapters.receivers.pagerduty import PagerDutyReceiver
from backup2gitops.adapters.receivers.slack import SlackReceiver
from backup2gitops.adapters.receivers.teams import ADAPTIVE_CARD, TeamsReceiver
from backup2gitops.adapters.receivers.webhook import WebhookReceiver, verify_signature
from backup2gitops.config import ConfigError, parse_config
from backup2gitops.core import alert_rules, alerts, events
from backup2gitops.core.events import Event
from tests.recording import Recorder

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def firing() -> alerts.Alert:
    event = Event(
        id="e1",
        source="/backup2gitops/backup-complete",
        type=events.BACKUP_FAILED,
        time=T0,
        cluster="prod",
        data={"cluster": "prod", "backup_id": "b1", "code": "corrupt", "message": "bad tar"},
    )
    (alert,) = alert_rules.effects_of(event).firing
    return alert


def test_slack_text_and_blocks(recorder: Recorder) -> None:
    SlackReceiver(name="slack", url=recorder.url + "/services/T/B/X").send(firing())
    (request,) = recorder.requests
    body = request.json()
    assert request.headers["Content-Type"] == "application/json"
    assert set(body) == {"text", "blocks"}
    assert "BackupFailed" in body["text"] and "FIRING:critical" in body["text"]
    kinds = [block["type"] for block in body["blocks"]]
    assert kinds == ["header", "section", "section", "context"]
    assert body["blocks"][0]["text"]["type"] == "plain_text"
    assert len(body["blocks"][0]["text"]["text"]) <= 150
    assert all(f["type"] == "mrkdwn" for f in body["blocks"][2]["fields"])


def test_teams_adaptive_card(recorder: Recorder) -> None:
    recorder.reply("/workflows/x", (202, ""))
    TeamsReceiver(name="teams", url=recorder.url + "/workflows/x").send(firing())
    body = recorder.requests[0].json()
    assert body["type"] == "message"
    (attachment,) = body["attachments"]
    assert attachment["contentType"] == ADAPTIVE_CARD == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"
    assert card["$schema"] == "http://adaptivecards.io/schemas/adaptive-card.json"
    assert card["body"][0]["type"] == "TextBlock"
    facts = {f["title"]: f["value"] for f in card["body"][2]["facts"]}
    assert facts["cluster"] == "prod"


def test_pagerduty_events_v2(recorder: Recorder) -> None:
    recorder.reply("/v2/enqueue", (202, '{"status":"success"}'), (202, '{"status":"success"}'))
    pd = PagerDutyReceiver(name="pd", routing_key="R" * 32, url=recorder.url + "/v2/enqueue")
    alert = firing()
    pd.send(alert)
    pd.send(alert.resolved(at=T0))
    trigger, resolve = (r.json() for r in recorder.requests)
    assert trigger["routing_key"] == "R" * 32
    assert trigger["event_action"] == "trigger"
    assert trigger["dedup_key"] == resolve["dedup_key"] == alert.fingerprint
    payload = trigger["payload"]
    assert {"summary", "source", "severity"} <= set(payload)
    assert payload["severity"] in {"critical", "error", "warning", "info"}
    assert len(payload["summary"]) <= 1024
    assert resolve["event_action"] == "resolve" and "payload" not in resolve


def test_webhook_signature_verifies(recorder: Recorder) -> None:
    WebhookReceiver(name="hook", url=recorder.url + "/hook", secret="s3cret").send(firing())
    request = recorder.requests[0]
    timestamp = request.headers["X-Backup2gitops-Timestamp"]
    signature = request.headers["X-Backup2gitops-Signature"]
    assert signature.startswith("sha256=")
    assert verify_signature("s3cret", body=request.body, timestamp=timestamp, signature=signature)
    assert not verify_signature(
        "other", body=request.body, timestamp=timestamp, signature=signature
    )
    assert not verify_signature(
        "s3cret", body=request.body + b" ", timestamp=timestamp, signature=signature
    )
    assert not verify_signature(  # replayed ten minutes later
        "s3cret",
        body=request.body,
        timestamp=timestamp,
        signature=signature,
        now=float(timestamp) + 600,
    )
    body = request.json()
    assert body["version"] == webhook_module.PAYLOAD_VERSION
    assert body["status"] == "firing" and body["labels"]["alertname"] == "BackupFailed"


def test_alertmanager_postable_alerts(recorder: Recorder) -> None:
    am = AlertmanagerReceiver(name="am", url=recorder.url)
    alert = firing()
    am.send(alert)
    am.send(alert.resolved(at=T0))
    first, second = (r.json() for r in recorder.to("/api/v2/alerts"))
    assert isinstance(first, list) and len(first) == 1
    assert set(first[0]) == {"labels", "annotations", "startsAt", "endsAt", "generatorURL"}
    assert first[0]["labels"] == second[0]["labels"]
    assert first[0]["startsAt"] == "2026-11-01T12:00:00Z"
    assert first[0]["endsAt"] > first[0]["startsAt"]
    assert second[0]["endsAt"] == "2026-11-01T12:00:00Z"


@pytest.mark.parametrize(
    ("status", "retryable"), [(500, True), (503, True), (429, True), (400, False), (404, False)]
)
def test_status_classification(recorder: Recorder, status: int, retryable: bool) -> None:
    recorder.reply("/s", (status, "nope"))
    with pytest.raises(ReceiverError) as caught:
        SlackReceiver(name="slack", url=recorder.url + "/s").send(firing())
    assert caught.value.retryable is retryable and caught.value.status == status
    assert recorder.url not in caught.value.message  # the URL may hold a token


def test_timeout_is_retryable(recorder: Recorder) -> None:
    import socket

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        receiver = SlackReceiver(name="s", url=f"http://127.0.0.1:{port}/x", timeout_s=0.3)
        with pytest.raises(ReceiverError) as caught:
            receiver.send(firing())
    assert caught.value.retryable


def test_console_line(capsys: pytest.CaptureFixture[str]) -> None:
    ConsoleReceiver().send(firing())
    out = capsys.readouterr().out
    assert out.startswith("[FIRING:critical] BackupFailed prod/backup:") and "bad tar" in out


def test_build_receivers_reads_secrets_from_refs(monkeypatch: pytest.MonkeyPatch) -> None:
    config = parse_config(
        """
alerts:
  receivers:
    - {name: console, type: console}
    - {name: slack, type: slack, url: {env: SLACK_URL}}
    - {name: pd, type: pagerduty, routing_key: {env: PD_KEY}}
    - {name: am, type: alertmanager, url: http://am:9093, health_url: http://am:9093/-/ready}
"""
    )
    env = {"SLACK_URL": "https://hooks.slack.com/services/T/B/secret", "PD_KEY": "k" * 32}
    receivers = build_receivers(config.alerts, environ=env)
    assert set(receivers) == {"console", "slack", "pd", "am"}
    assert receivers["am"].health_url == "http://am:9093/-/ready"
    assert "hooks.slack.com" not in repr(config) + repr(receivers["slack"].__dict__.keys())
    with pytest.raises(ReceiverError, match="not set"):
        build_receivers(config.alerts, environ={})
    with pytest.raises(ConfigError, match=r"alerts\.receivers\[0\]\.type: unknown receiver type"):
        parse_config("alerts: {receivers: [{name: x, type: carrier-pigeon}], routes: []}")


def test_third_party_receivers_load_from_the_entry_point_group(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from importlib import metadata

    from backup2gitops.adapters.receivers import registry

    class Pigeon:
        repeat_firing = False
        health_url = None

        def __init__(self, name: str) -> None:
            self.name = name

        @classmethod
        def from_config(cls, config: object, *, environ: object) -> Pigeon:
            return cls(getattr(config, "name", "?"))

        def send(self, alert: alerts.Alert) -> None:
            pass

    entry = metadata.EntryPoint(name="pigeon", value="x:Pigeon", group=registry.ENTRY_POINT_GROUP)
    monkeypatch.setattr(metadata.EntryPoint, "load", lambda self: Pigeon)
    monkeypatch.setattr(
        registry.metadata,
        "entry_points",
        lambda group: [entry] if group == registry.ENTRY_POINT_GROUP else [],
    )
    config = parse_config("alerts: {receivers: [{name: coo, type: pigeon}], routes: []}")
    (built,) = build_receivers(config.alerts, environ={}).values()
    assert isinstance(built, Pigeon) and built.name == "coo"


def test_a_plugin_receiver_settings_are_checked_by_its_own_model_at_load(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from importlib import metadata

    from pydantic import BaseModel, ConfigDict

    from backup2gitops.adapters.receivers import registry
    from backup2gitops.config.receivers import PluginReceiverConfig

    class PigeonSettings(BaseModel):
        model_config = ConfigDict(extra="forbid")
        loft: str

    class Pigeon:
        settings_model = PigeonSettings

    class Crow:  # declares no settings
        pass

    entries = {
        "pigeon": metadata.EntryPoint(name="pigeon", value="x:Pigeon", group="g"),
        "crow": metadata.EntryPoint(name="crow", value="x:Crow", group="g"),
    }
    monkeypatch.setattr(
        metadata.EntryPoint, "load", lambda self: Pigeon if self.name == "pigeon" else Crow
    )
    monkeypatch.setattr(
        registry.metadata,
        "entry_points",
        lambda group: list(entries.values()) if group == registry.ENTRY_POINT_GROUP else [],
    )
    routes = "routes: [{receivers: [coo]}]"
    config = parse_config(
        f"alerts: {{receivers: [{{name: coo, type: pigeon, loft: roof}}], {routes}}}"
    )
    (receiver,) = config.alerts.receivers
    assert isinstance(receiver, PluginReceiverConfig)
    assert receiver.settings == PigeonSettings(loft="roof")
    with pytest.raises(ConfigError, match=r"alerts\.receivers\[0\]\.loft: required"):
        parse_config(f"alerts: {{receivers: [{{name: coo, type: pigeon}}], {routes}}}")
    with pytest.raises(ConfigError, match=r"alerts\.receivers\[0\]\.lofts: unknown field"):
        parse_config(
            f"alerts: {{receivers: [{{name: coo, type: pigeon, loft: a, lofts: b}}], {routes}}}"
        )
    with pytest.raises(ConfigError, match=r"alerts\.receivers\[0\]\.loft: unknown field"):
        parse_config(f"alerts: {{receivers: [{{name: coo, type: crow, loft: a}}], {routes}}}")
