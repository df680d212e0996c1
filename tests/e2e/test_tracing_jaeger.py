"""One trace from the MinIO webhook to the commit and the alert, in a real Jaeger.

``backup2gitops serve`` runs the five functions under functions-framework behind the local
broker (Triggers from triggers/), each exporting its spans over OTLP/HTTP to a real Jaeger v2
(tests/e2e/jaeger.py) because ``OTEL_EXPORTER_OTLP_ENDPOINT`` names it. Two backups are posted to
backup-complete as MinIO's webhook posts them (the replayed payload ``cli.flow`` builds, with
MinIO's bearer token): the first is the cluster's baseline, the second adds a ClusterRoleBinding
granting cluster-admin, so gitops-generator commits it and also publishes ``gitops.drifted``,
which alert-router turns into an alert delivered to a webhook receiver.

The second backup's trace is read back from Jaeger's query API: one trace, whose root is
backup-complete's span (MinIO sends no trace context), gitops-generator's span its child, and
health-aggregator's and alert-router's spans (``gitops.generated`` and ``gitops.drifted``)
children of gitops-generator's. Every wait is a bounded poll (servers.wait_for), never a sleep.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from backup2gitops.adapters.git import ensure_bare_remote
from backup2gitops.adapters.storage import FileStore
from backup2gitops.config import CONFIG_ENV
from backup2gitops.core import events
from tests.e2e.jaeger import jaeger_server
from tests.e2e.servers import backup2gitops_serve, wait_for
from tests.e2e.test_drift_alertmanager import ADMIN, BASE, backup, commits
from tests.recording import Recorder

pytestmark = pytest.mark.e2e
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TOKEN = "tracing-e2e-token"
DRIFTED = f"process {events.GITOPS_DRIFTED}"
HEALTH_STATE = "state/health.json"  # health.state_key's default


def wait(condition: Callable[[], Any], *, what: str, timeout: float = 120) -> Any:
    return wait_for(lambda: condition() or None, timeout=timeout, what=what, interval=0.3)


def traces(query: str, service: str, operation: str | None = None) -> list[dict[str, Any]]:
    params = {"service": service, "limit": "20", "lookback": "1h"}
    if operation:
        params["operation"] = operation
    answer = requests.get(query + "/api/traces", params=params, timeout=10)
    answer.raise_for_status()
    return list(answer.json()["data"] or [])


def baseline_health(store: FileStore) -> Callable[[], bool]:
    """Whether health-aggregator has recorded a report that knows the baseline b1."""

    def recorded() -> bool:
        return store.stat(HEALTH_STATE) is not None and b"backup b1" in store.read_bytes(
            HEALTH_STATE
        )

    return recorded


def trace(query: str, trace_id: str) -> dict[str, Any]:
    answer = requests.get(f"{query}/api/traces/{trace_id}", timeout=10)
    answer.raise_for_status()
    (found,) = answer.json()["data"]
    return dict(found)


def tags(span: dict[str, Any]) -> dict[str, Any]:
    return {tag["key"]: tag["value"] for tag in span["tags"]}


def test_one_trace_from_the_minio_webhook_to_the_commit_and_the_alert(
    tmp_path: Path, recorder: Recorder
) -> None:
    remote = ensure_bare_remote(tmp_path / "gitops.git")
    store = FileStore(tmp_path / "bucket")
    config = {
        "storage": {"url": (tmp_path / "bucket").as_uri()},
        "git": {"url": str(remote), "cache_dir": str(tmp_path / "cache" / "git")},
        "clusters": [{"name": "prod"}],
        "alerts": {
            "receivers": [{"name": "hook", "type": "webhook", "url": recorder.url + "/router"}],
            "routes": [{"receivers": ["hook"]}],
        },
    }
    config_path = tmp_path / "config.yaml"
    config_path.write_text(yaml.safe_dump(config))
    with jaeger_server(tmp_path / "jaeger") as jaeger:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BACKUP2GITOPS", "OTEL_"))}
        env |= {
            CONFIG_ENV: str(config_path),
            "BACKUP2GITOPS_CACHE_DIR": str(tmp_path / "cache"),
            "BACKUP2GITOPS_WEBHOOK_TOKEN": TOKEN,
            "OTEL_EXPORTER_OTLP_ENDPOINT": jaeger.otlp,
            "OTEL_BSP_SCHEDULE_DELAY": "200",  # export sooner; the polls below still decide
        }
        with backup2gitops_serve(env=env, log=tmp_path / "serve.log") as port:

            def post(body: bytes) -> None:
                answer = requests.post(
                    f"http://127.0.0.1:{port + 1}/",  # backup-complete, as MinIO's webhook
                    data=body,
                    headers={
                        "Content-Type": "application/json",
                        "Authorization": f"Bearer {TOKEN}",
                    },
                    timeout=60,
                )
                assert answer.status_code == 202, answer.text

            post(backup(store, "b1", BASE, T0))
            wait(lambda: commits(remote) == 1, what="the baseline commit")
            # b2 lands once the baseline's health run has recorded its report: a run that
            # sees b2 landed and not yet committed (months past the lag: the watchdog) says
            # unhealthy, and b2's own run then announces a change in b2's trace (a 7th span)
            wait(baseline_health(store), what="the baseline's health report")
            post(backup(store, "b2", [*BASE, ADMIN], T0 + timedelta(hours=1)))
            wait(lambda: commits(remote) == 2, what="the drift commit")
            wait(
                lambda: any(b"GitOpsDrift" in r.body for r in recorder.to("/router")),
                what="the drift alert at the receiver",
            )
            (found,) = wait(
                lambda: traces(jaeger.query, "alert-router", DRIFTED),
                what=f"alert-router's {DRIFTED} span in Jaeger\n{jaeger.log.read_text()[-2000:]}",
            )
            trace_id = found["traceID"]

            def complete() -> dict[str, Any] | None:
                whole = trace(jaeger.query, trace_id)
                return whole if len(whole["spans"]) >= 6 else None

            whole = wait(complete, what="the six spans of the drift backup's trace")
            log = (tmp_path / "serve.log").read_text()

    service = {pid: p["serviceName"] for pid, p in whole["processes"].items()}
    spans = {span["spanID"]: span for span in whole["spans"]}
    assert len(spans) == 6, [(service[s["processID"]], s["operationName"]) for s in spans.values()]
    by_name = {(service[s["processID"]], s["operationName"]): s for s in spans.values()}
    assert set(by_name) == {
        ("backup-complete", "process io.backup2gitops.storage.object"),
        ("gitops-generator", f"process {events.BACKUP_COMPLETED}"),
        ("health-aggregator", f"process {events.GITOPS_GENERATED}"),
        ("alert-router", f"process {events.GITOPS_GENERATED}"),
        ("alert-router", DRIFTED),
        ("health-aggregator", DRIFTED),  # it keeps the findings for the status page
    }

    def parent(span: dict[str, Any]) -> dict[str, Any] | None:
        refs = [r for r in span["references"] if r["refType"] == "CHILD_OF"]
        if not refs:
            return None
        assert refs[0]["traceID"] == trace_id
        return spans[refs[0]["spanID"]]

    root = by_name[("backup-complete", "process io.backup2gitops.storage.object")]
    generator = by_name[("gitops-generator", f"process {events.BACKUP_COMPLETED}")]
    assert parent(root) is None  # MinIO sends no context: the trace starts here
    assert parent(generator) is root
    for name in [
        ("health-aggregator", f"process {events.GITOPS_GENERATED}"),
        ("alert-router", f"process {events.GITOPS_GENERATED}"),
        ("alert-router", DRIFTED),
        ("health-aggregator", DRIFTED),
    ]:
        assert parent(by_name[name]) is generator, name
    assert all(s["traceID"] == trace_id for s in spans.values())
    assert tags(generator)["cloudevents.event_subject"] == "prod/b2"
    assert tags(root)["backup2gitops.parent_origin"] == "none"
    assert tags(generator)["backup2gitops.parent_origin"] == "extension"
    # the functions' log lines of this flow name the same trace
    assert f'"trace_id":"{trace_id}"' in log
