"""The Lambda adapter: S3 and EventBridge in, PutEvents out.

No AWS is reachable here: the EventBridge client is an in-memory fake at the boundary
(``RecordingEventBridge``) that records the PutEvents entries.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from backup2gitops.adapters.storage import MemoryStore, StorageError
from backup2gitops.config import ConfigError, load_config, parse_config
from backup2gitops.core.errors import Transient
from backup2gitops.core.events import (
    BACKUP_COMPLETED,
    BACKUP_REQUESTED,
    PING,
    BackupRequested,
    Event,
)
from backup2gitops.core.notifications import STORAGE_OBJECT
from backup2gitops.runtime.aws_lambda import (
    UnreadableEvent,
    event_from_lambda,
    from_structured,
    lambda_adapter,
    structured,
)
from backup2gitops.runtime.context import FunctionContext
from backup2gitops.runtime.http import FunctionSpec
from backup_complete.handler import SPEC
from tests.fixtures.eventbridge import RecordingEventBridge, bus_delivery
from tests.fixtures.native import native_backup, store_native_backup
from tests.fixtures.notifications import eventbridge_body, load, s3_body

BUCKET = "prod-backups"
KEY = "backups/prod/20261123t020000z/manifest.json"


class LambdaContext:
    aws_request_id = "c6af9ac6-7b61-11e6-9a41-93e812345678"
    function_name = "backup-complete"


def context_for(store: MemoryStore, *, bus: str | None = "b2g") -> FunctionContext:
    environ = {"BACKUP2GITOPS_EVENT_BUS": bus} if bus else {}
    return FunctionContext(parse_config("{}", {}), store=store, environ=environ)


@pytest.fixture
def store() -> MemoryStore:
    memory = MemoryStore(bucket=BUCKET)
    store_native_backup(memory, native_backup())
    return memory


@pytest.mark.parametrize(
    "payload",
    [s3_body(bucket=BUCKET, key=KEY), eventbridge_body(bucket=BUCKET, key=KEY)],
    ids=["s3-notification", "eventbridge-object-created"],
)
def test_s3_and_eventbridge_put_the_reply_on_the_bus(
    store: MemoryStore, payload: dict[str, Any]
) -> None:
    bridge = RecordingEventBridge()
    handler = lambda_adapter(SPEC, context=lambda: context_for(store), events_client=bridge)
    result = handler(payload, LambdaContext())
    assert result["status"] == "published"
    assert result["request_id"] == LambdaContext.aws_request_id
    (entry,) = bridge.entries
    assert entry["EventBusName"] == "b2g"
    assert entry["Source"] == "/backup2gitops/backup-complete"
    assert entry["DetailType"] == BACKUP_COMPLETED
    detail = json.loads(entry["Detail"])
    assert detail["id"] == result["reply_id"]
    assert detail["cluster"] == "prod"
    assert detail["subject"] == "prod/20261123t020000z"
    assert detail["data"]["keys"][0] == KEY


def test_the_unmodified_published_payloads_are_understood() -> None:
    s3 = event_from_lambda(load("aws-s3-put.json"))
    bridge = event_from_lambda(load("aws-eventbridge-s3-object-created.json"))
    assert (s3.type, s3.source) == (STORAGE_OBJECT, "aws:s3")
    assert (bridge.type, bridge.source) == (STORAGE_OBJECT, "aws.s3")
    assert bridge.id == "f5f1e65c-dc3a-93ca-6c1e-b1647eac7963"


def test_a_non_marker_publishes_nothing(store: MemoryStore) -> None:
    bridge = RecordingEventBridge()
    handler = lambda_adapter(SPEC, context=lambda: context_for(store), events_client=bridge)
    result = handler(s3_body(bucket=BUCKET, key="backups/prod/x/notes.txt"), LambdaContext())
    assert result["status"] == "no_reply"
    assert bridge.entries == []


def test_our_own_bus_events_round_trip() -> None:
    event = Event(
        id="e1",
        source="/backup2gitops/cluster-backup",
        type=BACKUP_REQUESTED,
        subject="prod",
        cluster="prod",
        traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        data=BackupRequested(cluster="prod").model_dump(mode="json"),
        extensions={"knativearrivaltime": "2026-11-23T02:00:00Z"},
    )
    bridge = RecordingEventBridge()
    seen: list[Event] = []

    def echo(received: Event, ctx: FunctionContext) -> Event | None:
        seen.append(received)
        return None

    spec = FunctionSpec(name="echo", handle=echo)
    handler = lambda_adapter(spec, context=lambda: context_for(MemoryStore()), events_client=bridge)
    assert handler(bus_delivery(event), LambdaContext())["status"] == "no_reply"
    assert seen == [event.model_copy(update={"time": seen[0].time})]
    assert from_structured(json.loads(json.dumps(structured(event)))).cluster == "prod"


@pytest.mark.parametrize(
    "raw",
    [
        {
            "version": "0",
            "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": "123456789012",
            "time": "2015-10-08T16:53:06Z",
            "region": "us-east-1",
            "resources": ["arn:aws:events:us-east-1:123456789012:rule/my-scheduled-rule"],
            "detail": {},
        },
        {},
        {"reason": "scheduled", "cluster": "prod"},
    ],
    ids=["eventbridge-schedule", "scheduler-without-input", "scheduler-input"],
)
def test_schedules_are_pings(raw: dict[str, Any]) -> None:
    event = event_from_lambda(raw)
    assert event.type == PING
    if "detail-type" not in raw:
        assert event.data == raw  # the Scheduler's input is the tick's data


def scheduler_inputs() -> dict[str, Any]:
    """Each ScheduleV2 event's ``Input`` exactly as template.yaml writes it (a !Sub is
    substituted with the parameter defaults, as CloudFormation would)."""
    from samtranslator.yaml_helper import yaml_parse

    template = yaml_parse((Path(__file__).parents[2] / "template.yaml").read_text())
    defaults = {k: v.get("Default", "") for k, v in template["Parameters"].items()}
    defaults["ClusterName"] = defaults.get("ClusterName") or "prod"
    inputs = {}
    for name, resource in template["Resources"].items():
        for event_name, event in resource.get("Properties", {}).get("Events", {}).items():
            if event["Type"] != "ScheduleV2":
                continue
            text = event["Properties"]["Input"]
            if isinstance(text, dict):  # {"Fn::Sub": "..."}
                text = text["Fn::Sub"]
                for key, value in defaults.items():
                    text = text.replace("${" + key + "}", str(value))
            inputs[f"{name}.{event_name}"] = json.loads(text)
    return inputs


def test_the_template_schedules_inputs_are_ticks_cluster_backup_runs() -> None:
    """The literal input EventBridge Scheduler sends (template.yaml) reaches the handlers as a
    ping; cluster-backup's names the cluster it backs up."""
    from cluster_backup.handler import requested_cluster

    inputs = scheduler_inputs()
    assert inputs.keys() >= {
        "ClusterBackupFunction.Daily",
        "HealthAggregatorFunction.Every5Minutes",
    }
    for name, raw in inputs.items():
        event = event_from_lambda(raw)
        assert (event.type, event.data) == (PING, raw), name
        if name.startswith("ClusterBackupFunction"):
            assert requested_cluster(event) == "prod"


def test_an_unreadable_event_raises_so_it_reaches_the_on_failure_destination(
    store: MemoryStore,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "backup2gitops")
    bridge = RecordingEventBridge()
    handler = lambda_adapter(SPEC, context=lambda: context_for(store), events_client=bridge)
    capsys.readouterr()
    for raw, code in [
        ({"Records": [{"eventSource": "aws:s3"}]}, "invalid_notification"),
        (["not", "an", "object"], "unknown_lambda_event"),
        (
            {
                "detail-type": "EC2 Instance State-change Notification",
                "source": "aws.ec2",
                "id": "1",
                "detail": {},
            },
            "unknown_lambda_event",
        ),
    ]:
        with pytest.raises(UnreadableEvent) as raised:
            handler(raw, LambdaContext())  # type: ignore[arg-type]
        assert raised.value.code == code
    out = capsys.readouterr().out
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert [r.getMessage().startswith("unreadable event") for r in errors] == [True] * 3
    outcomes = [r["outcome"] for r in emf_records(out)]
    assert outcomes == ["unreadable"] * 3
    assert bridge.entries == []


class FlakyStore(MemoryStore):
    def stat(self, key: str) -> Any:
        raise StorageError("S3 503 on " + key)


def test_transient_errors_raise_so_lambda_retries() -> None:
    handler = lambda_adapter(
        SPEC,
        context=lambda: context_for(FlakyStore(bucket=BUCKET)),
        events_client=RecordingEventBridge(),
    )
    with pytest.raises(Transient):
        handler(s3_body(bucket=BUCKET, key=KEY), LambdaContext())


def test_a_failed_put_events_raises(store: MemoryStore) -> None:
    bridge = RecordingEventBridge(fail_with="ThrottlingException")
    handler = lambda_adapter(SPEC, context=lambda: context_for(store), events_client=bridge)
    with pytest.raises(Transient, match="ThrottlingException"):
        handler(s3_body(bucket=BUCKET, key=KEY), LambdaContext())


def test_without_a_bus_the_reply_is_in_the_result(store: MemoryStore) -> None:
    handler = lambda_adapter(
        SPEC, context=lambda: context_for(store, bus=None), events_client=RecordingEventBridge()
    )
    result = handler(s3_body(bucket=BUCKET, key=KEY), LambdaContext())
    assert result["status"] == "replied"
    assert result["reply"]["type"] == BACKUP_COMPLETED


@pytest.mark.parametrize(
    "module",
    ["backup_complete", "gitops_generator", "cluster_backup", "health_aggregator", "alert_router"],
)
def test_every_function_has_the_lambda_handler_template_yaml_names(module: str) -> None:
    import importlib
    from pathlib import Path

    import yaml

    handler = importlib.import_module(f"{module}.handler")
    assert callable(handler.lambda_handler)

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
    template = yaml.load(
        (Path(__file__).resolve().parents[2] / "template.yaml").read_text(),
        Loader=Loader,  # noqa: S506 - a SafeLoader subclass that ignores CloudFormation tags
    )
    handlers = {
        r["Properties"].get("Handler")
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Serverless::Function"
    }
    assert f"{module}.handler.lambda_handler" in handlers


def test_an_invalid_configuration_fails_every_invocation_naming_the_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lambda: the invocation fails (retried, then the on-failure destination keeps the event)."""
    config = tmp_path / "config.yaml"
    config.write_text("generator: {transforms: [does-not-exist]}\n")
    monkeypatch.setenv("BACKUP2GITOPS_CONFIG", str(config))
    handler = lambda_adapter(SPEC, context=lambda: FunctionContext(load_config()))
    for _ in range(2):  # not only the first: the broken configuration is never cached as good
        with pytest.raises(ConfigError, match=r"generator\.transforms\[0\]: unknown transform"):
            handler(s3_body(bucket="b", key="backups/prod/b1/manifest.json"), None)


def test_a_failure_the_function_reports_is_published_not_raised() -> None:
    """On Lambda too: an unexpected error becomes the function's failure event on the bus."""

    def broken(received: Event, ctx: FunctionContext) -> Event | None:
        raise KeyError("a bug")

    def report(received: Event, failure: Any, ctx: FunctionContext) -> Event:
        data = BackupRequested(cluster="prod", reason=failure.code)
        return received.reply(type="io.example.failed", source="/test", data=data)

    bridge = RecordingEventBridge()
    spec = FunctionSpec(name="broken", handle=broken, failure_event=report)
    handler = lambda_adapter(spec, context=lambda: context_for(MemoryStore()), events_client=bridge)
    result = handler({}, LambdaContext())  # a schedule: a ping
    assert result["status"] == "published"
    assert [entry["DetailType"] for entry in bridge.entries] == ["io.example.failed"]
    assert json.loads(bridge.entries[0]["Detail"])["data"]["reason"] == "internal"
    plain = lambda_adapter(
        FunctionSpec(name="broken", handle=broken),
        context=lambda: context_for(MemoryStore()),
        events_client=bridge,
    )
    with pytest.raises(KeyError):  # no failure event: Lambda retries, then on-failure
        plain({}, LambdaContext())


# -- metrics, the packaged configuration, optional secrets --------------------------------------


def emf_records(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.startswith('{"_aws"')]


def test_each_invocation_emits_one_metric_record_with_its_outcome(
    store: MemoryStore, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "backup2gitops")
    handler = lambda_adapter(
        SPEC, context=lambda: context_for(store), events_client=RecordingEventBridge()
    )
    capsys.readouterr()
    handler(s3_body(bucket=BUCKET, key=KEY), LambdaContext())
    with pytest.raises(UnreadableEvent):  # a tick: not the notification backup-complete reads
        handler({"unexpected": True}, LambdaContext())
    failing = lambda_adapter(
        FunctionSpec(
            name="flaky", handle=lambda _e, _c: (_ for _ in ()).throw(Transient("x", "y"))
        ),
        context=lambda: context_for(MemoryStore()),
    )
    with pytest.raises(Transient):
        failing({}, LambdaContext())
    records = emf_records(capsys.readouterr().out)
    assert [(r["service"], r["outcome"], r["Invocations"]) for r in records] == [
        ("backup-complete", "published", [1.0]),
        ("backup-complete", "unreadable", [1.0]),
        ("flaky", "failed", [1.0]),
    ]
    (directive,) = records[0]["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "backup2gitops"
    assert [sorted(d) for d in directive["Dimensions"]] == [["outcome", "service"]]


def test_no_metric_without_a_namespace(
    store: MemoryStore, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("POWERTOOLS_METRICS_NAMESPACE", raising=False)
    handler = lambda_adapter(
        SPEC, context=lambda: context_for(store), events_client=RecordingEventBridge()
    )
    handler(s3_body(bucket=BUCKET, key=KEY), LambdaContext())
    assert emf_records(capsys.readouterr().out) == []


STACK_ENV = {
    "BACKUP2GITOPS_BUCKET": "backup2gitops-123456789012-eu-west-1",
    "BACKUP2GITOPS_GIT_URL": "https://git.example.com/platform/clusters.git",
}


def gitops_failed_from_bus() -> dict[str, Any]:
    event = Event(
        id="f1",
        source="/backup2gitops/gitops-generator",
        type="io.backup2gitops.gitops.failed",
        cluster="prod",
        data={
            "cluster": "prod",
            "backup_id": "b1",
            "code": "push",
            "message": "rejected",
            "retryable": False,
        },
    )
    return bus_delivery(event, delivery_id="eb-2")


def test_a_function_cold_starts_on_the_packaged_configuration_without_any_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """No BACKUP2GITOPS_CONFIG, no *_SECRET_ARN, another working directory: alert-router
    starts on backup2gitops/config.yaml; Slack and PagerDuty are not configured, the log
    receiver has the alert."""
    from alert_router.handler import SPEC as ALERT_ROUTER
    from backup2gitops.config import PACKAGED_CONFIG

    monkeypatch.chdir(tmp_path)
    config = load_config(environ=STACK_ENV, default=PACKAGED_CONFIG)
    assert config.storage.url == f"s3://{STACK_ENV['BACKUP2GITOPS_BUCKET']}"
    relative = {**STACK_ENV, "BACKUP2GITOPS_CONFIG": "backup2gitops/config.yaml"}
    assert load_config(environ=relative) == config  # template.yaml's default, from anywhere
    store = MemoryStore()
    handler = lambda_adapter(
        ALERT_ROUTER,
        context=lambda: FunctionContext(config, store=store, environ=STACK_ENV),
        events_client=RecordingEventBridge(),
    )
    caplog.set_level("INFO")
    assert handler(gitops_failed_from_bus(), LambdaContext())["status"] == "no_reply"
    results = {
        r.__dict__.get("receiver"): r.__dict__.get("result")
        for r in caplog.records
        if r.getMessage() == "delivery"
    }
    assert results == {"pagerduty": "skipped", "slack": "skipped", "logs": "delivered"}
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]


def test_a_receiver_that_is_not_optional_needs_its_secret_at_cold_start() -> None:
    from alert_router.handler import SPEC as ALERT_ROUTER

    text = """
alerts:
  receivers:
    - {name: slack, type: slack, url: {env: BACKUP2GITOPS_SLACK_WEBHOOK_URL}}
    - {name: unused, type: pagerduty, routing_key: {env: NOT_ROUTED}}
  routes:
    - receivers: [slack]
"""
    config = parse_config(text, {})
    handler = lambda_adapter(
        ALERT_ROUTER,
        context=lambda: FunctionContext(config, store=MemoryStore(), environ={}),
        events_client=RecordingEventBridge(),
    )
    with pytest.raises(ConfigError) as refused:
        handler(gitops_failed_from_bus(), LambdaContext())
    assert str(refused.value) == (
        "alert-router: alerts.receivers[0].url ($BACKUP2GITOPS_SLACK_WEBHOOK_URL"
        " is not set): set it (on Lambda: the receiver's *SecretArn parameter), or mark the "
        "receiver optional: true"
    )
    env = {"BACKUP2GITOPS_SLACK_WEBHOOK_URL": "http://127.0.0.1:9/hook"}
    assert ALERT_ROUTER.requirements is not None
    assert ALERT_ROUTER.requirements(FunctionContext(config, environ=env)) is None


def test_gitops_generator_without_git_fails_every_invocation_naming_the_fix(
    store: MemoryStore, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from backup2gitops.runtime.aws_lambda import git_missing

    assert git_missing("gitops-generator", {}, which=lambda _name: "/opt/bin/git") is None
    assert git_missing("backup-complete", {}, which=lambda _name: None) is None
    why = git_missing("gitops-generator", {}, which=lambda _name: None)
    assert why is not None and "GitLayerArn" in why and "template-image.yaml" in why
    spec = FunctionSpec(name="gitops-generator", handle=lambda _e, _c: None)
    handler = lambda_adapter(
        spec,
        context=lambda: FunctionContext(
            parse_config("{}", {}), store=store, environ={"PATH": "/nonexistent"}
        ),
        events_client=RecordingEventBridge(),
    )
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(ConfigError, match="GitLayerArn"):
        handler({}, LambdaContext())
    assert any(
        r.levelname == "CRITICAL" and "GitLayerArn" in r.getMessage() for r in caplog.records
    )
