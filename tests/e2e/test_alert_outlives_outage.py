"""An alert outlives its receiver's outage (issue 22, item 3), against a real Alertmanager.

Alertmanager is down (nothing listens on its port) when ``gitops.failed`` ``mass_deletion``
fires: alert-router answers 503, as it would to every one of the Broker's retries, after which
the event is dead-lettered. Alertmanager then starts on the same port (100 s later by the
injected clock); the next health tick delivers the alert, and later ticks do not deliver it
again. Alertmanager's own counter of alerts received (``alertmanager_alerts_received_total``)
says how many times it was sent; its API shows the alert.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from alert_router import handler
from backup2gitops.adapters.storage import MemoryStore
from backup2gitops.config import parse_config
from backup2gitops.core import events
from backup2gitops.core.errors import Transient
from backup2gitops.core.events import Event
from backup2gitops.runtime.context import FunctionContext
from tests.e2e.alertmanager import ALERTMANAGER, alertmanager_server
from tests.recording import free_port

pytestmark = pytest.mark.e2e

CONFIG = """
global:
  resolve_timeout: 5m
route:
  receiver: hook
  group_by: [cluster]
  repeat_interval: 1h
receivers:
  - name: hook
"""


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def port() -> Iterator[int]:
    if ALERTMANAGER is None:
        pytest.skip("prometheus-alertmanager is not installed (scripts/install-test-deps.sh)")
    yield free_port()


def received_firing(url: str) -> float:
    """Firing alerts Alertmanager has received, over its API versions."""
    text = requests.get(url + "/metrics", timeout=30).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "alertmanager_alerts_received_total"
        and sample.labels.get("status") == "firing"
    )


def test_mass_deletion_while_alertmanager_is_down_is_delivered_once_when_it_is_back(
    tmp_path: Path, port: int
) -> None:
    url = f"http://127.0.0.1:{port}"
    fired_at = datetime.now(UTC).replace(microsecond=0)  # Alertmanager's own sense of "now"
    clock = Clock(fired_at)
    config = parse_config(
        f"""
alerts:
  receivers: [{{name: am, type: alertmanager, url: "{url}", timeout_s: 10}}]
  routes: [{{receivers: [am]}}]
""",
        {},
    )
    ctx = FunctionContext(config, store=MemoryStore(), environ={}, clock=clock)
    failed = Event(
        id="mass-1",
        source="/backup2gitops/gitops-generator",
        type=events.GITOPS_FAILED,
        time=fired_at,
        cluster="prod",
        data={
            "cluster": "prod",
            "backup_id": "b-0207",
            "code": "mass_deletion",
            "message": "the commit would remove 3 of the cluster's 4 objects",
            "retryable": False,
        },
    )
    for _ in range(7):  # the first delivery and the Trigger's 6 retries: all refused
        with pytest.raises(Transient, match="am"):
            handler.handle(failed, ctx)

    tick = Event(
        id="tick-1",
        source="/apis/v1/namespaces/b2g/pingsources/backup2gitops-health-schedule",
        type=events.PING,
    )
    with alertmanager_server(tmp_path / "am", CONFIG, port=port) as am:
        assert am == url
        assert received_firing(am) == 0
        clock.now = fired_at + timedelta(seconds=100)
        assert handler.handle(tick, ctx) is None
        assert received_firing(am) == 1
        alerts = requests.get(am + "/api/v2/alerts", timeout=30).json()
        assert [a["labels"]["alertname"] for a in alerts] == ["GitopsFailed"]
        assert alerts[0]["labels"]["cluster"] == "prod"
        assert "mass_deletion" in alerts[0]["annotations"]["description"]
        for n in range(2, 5):  # later ticks, and the Broker's late redelivery: nothing more
            clock.now += timedelta(minutes=5)
            handler.handle(tick.model_copy(update={"id": f"tick-{n}"}), ctx)
        handler.handle(failed, ctx)
        assert received_firing(am) == 1
