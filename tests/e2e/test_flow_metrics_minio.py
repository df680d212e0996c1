"""Flow metrics, end to end: backups into a real MinIO, whose webhook drives ``backup2gitops
serve`` (the five functions under functions-framework, the broker routing by triggers/) to
commits in a real ``git daemon`` remote; one corrupt backup becomes ``backup.failed``, which
alert-router delivers (console receiver) and records. Then health-aggregator's ``/metrics``,
scraped over HTTP, holds the flow counters and the backup-to-commit histogram derived from those
durable facts, and ``promtool check metrics`` accepts the scrape.

The scrape is also the reference for knative/components/monitoring: every metric name the
PrometheusRule and the Grafana dashboard read must be one this scrape exposes.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from backup2gitops.adapters.storage import MemoryStore
from backup2gitops.core import bucket_layout, events
from backup2gitops.core.archive import BackupItem
from backup2gitops.native_backup_writer import write_native_backup
from tests import prometheus
from tests.e2e.served_flow import ServedFlow, served_flow
from tests.e2e.servers import MINIO_PASSWORD, needs_minio, wait_for

pytestmark = [
    pytest.mark.e2e,
    needs_minio,
    pytest.mark.skipif(prometheus.promtool_binary() is None, reason=prometheus.PROMTOOL_MISSING),
]
TOKEN = "flow-metrics-token"
MORE_CONFIG = "health: {metrics_cache_s: 0}\n"


def config_map(name: str, value: str) -> BackupItem:
    body = {"apiVersion": "v1", "kind": "ConfigMap", "data": {"v": value},
            "metadata": {"name": name, "namespace": "shop"}}  # fmt: skip
    return BackupItem("configmaps", "shop", name, body)


NAMESPACE = BackupItem(
    "namespaces",
    None,
    "shop",
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}},
)


@pytest.fixture
def flow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ServedFlow]:
    with served_flow(
        tmp_path, monkeypatch, cluster="prod", token=TOKEN, more_config=MORE_CONFIG
    ) as served:
        yield served


def metrics_url(flow: ServedFlow) -> str:
    """health-aggregator is the third function: the broker's port + 3."""
    return f"http://127.0.0.1:{flow.port + 3}/metrics"


def commits(bare: Path) -> int:
    """Commits on the remote's main (read from the daemon's own repository folder)."""
    out = subprocess.run(
        ["git", "--git-dir", str(bare), "rev-list", "--count", "main"],
        capture_output=True,
        text=True,
        check=False,
    )
    return int(out.stdout.strip()) if out.returncode == 0 else 0


def write_backup(flow: ServedFlow, backup_id: str, items: list[BackupItem]) -> None:
    write_native_backup(
        flow.store, iter(items), cluster="prod", backup_id=backup_id, started_at=events.now()
    )


def write_corrupt_backup(flow: ServedFlow, backup_id: str) -> None:
    """A backup whose archive is not the one its manifest describes (same size, other bytes)."""
    scratch = MemoryStore()
    written = write_native_backup(
        scratch, iter([NAMESPACE]), cluster="prod", backup_id=backup_id, started_at=events.now()
    )
    archive = bucket_layout.native_archive_key(prefix="", cluster="prod", backup_id=backup_id)
    good = scratch.read_bytes(archive)
    flow.store.put_bytes(archive, bytes(b ^ 0xFF for b in good))
    flow.store.put_bytes(written.manifest_key, scratch.read_bytes(written.manifest_key))


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(flow: ServedFlow) -> tuple[bytes, Samples]:
    response = requests.get(metrics_url(flow), timeout=60)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/plain; version=")  # the text format
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }
    return response.content, samples


def exposed_names(body: bytes) -> set[str]:
    """Every series name the scrape declares (a counter with no sample yet included)."""
    names = set()
    for line in body.decode().splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            suffixes = ("_bucket", "_sum", "_count") if kind == "histogram" else ("",)
            names |= {name + suffix for suffix in suffixes}
    return names


def test_flow_metrics_from_minio_git_and_alert_records_pass_promtool(flow: ServedFlow) -> None:
    def when(what: str, condition: Callable[[], bool]) -> None:
        wait_for(lambda: condition() or None, timeout=120, what=what, interval=0.3)

    write_backup(flow, "b1", [NAMESPACE, config_map("a", "1")])
    when("b1's commit", lambda: commits(flow.bare) == 1)
    write_backup(flow, "b2", [NAMESPACE, config_map("a", "1"), config_map("b", "2")])
    when("b2's commit", lambda: commits(flow.bare) == 2)
    write_backup(flow, "b3", [NAMESPACE, config_map("a", "1"), config_map("b", "2")])
    when("b3's (empty) commit", lambda: commits(flow.bare) == 3)
    write_corrupt_backup(flow, "b4")
    prod = (("backup_cluster", "prod"),)
    when(
        "the failure in the flow counters",
        lambda: scrape(flow)[1].get(("backup2gitops_backups_failed_total", prod)) == 1,
    )

    body, samples = scrape(flow)
    prometheus.promtool("check", "metrics", stdin=body)  # exit 0: no problem found
    assert samples[("backup2gitops_flow_metrics_up", ())] == 1
    # b4's writer finished (its marker is there) but backup-complete refused it: in both
    assert samples[("backup2gitops_backups_completed_total", prod)] == 4
    assert samples[("backup2gitops_generations_total", prod)] == 3
    assert samples[("backup2gitops_commits_total", prod)] == 2  # b3 changed nothing
    assert ("backup2gitops_generations_failed_total", prod) not in samples  # none failed
    delivered = (("outcome", "delivered"), ("receiver", "console"))
    assert samples[("backup2gitops_alert_deliveries_total", delivered)] >= 1
    assert samples[("backup2gitops_backup_to_commit_seconds_count", prod)] == 3
    inf = (*prod, ("le", "+Inf"))
    assert samples[("backup2gitops_backup_to_commit_seconds_bucket", inf)] == 3
    assert samples[("backup2gitops_backup_to_commit_seconds_sum", prod)] >= 0
    assert samples[("backup2gitops_backup_stale", prod)] == 0
    log = flow.log.read_text()
    assert TOKEN not in log and MINIO_PASSWORD not in log

    exposed = exposed_names(body)
    assert {name for name, _ in samples} <= exposed
    for rule in prometheus.rules():
        missing = prometheus.metric_names(str(rule["expr"])) - exposed
        assert not missing, f"{rule.get('alert') or rule.get('record')} reads {missing}"
    for expr in prometheus.dashboard_exprs():
        missing = prometheus.metric_names(expr) - exposed
        assert not missing, f"the dashboard's {expr!r} reads {missing}"
