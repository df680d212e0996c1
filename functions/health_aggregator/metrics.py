"""The flow's figures in Prometheus text format: state gauges from one measurement, and the flow
counters and the backup-to-commit histogram from durable facts (``core.flow_metrics``).

A fresh ``CollectorRegistry`` per request: no process-global metric state, so two requests
(or two tests) never see each other's values. The counters are not counted here: each is the
whole count recomputed from the facts, exposed as a counter family. When the facts cannot be
read, the counter families are left out (a partial count would look like a counter reset to
Prometheus) and ``backup2gitops_flow_metrics_up`` is 0.

Names follow Prometheus' conventions: ``backup2gitops_`` prefix, base units (``_seconds``),
``_total`` on counters, ``_timestamp_seconds`` on Unix times. docs/metrics.md lists them all.
"""

from __future__ import annotations

import platform
from collections.abc import Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Gauge, generate_latest
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from backup2gitops.core.events import HealthReported
from backup2gitops.core.flow_metrics import (
    CLUSTER_LABEL,
    FlowCounts,
    build_info_labels,
    state_series,
)
from backup2gitops.core.health import ClusterFacts


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("backup2gitops")
    except metadata.PackageNotFoundError:  # a checkout that is not installed
        return "unknown"


@dataclass(frozen=True)
class Limits:
    """The thresholds the function judges by, exported so rules and dashboards use the same."""

    max_gitops_lag_s: float
    check_timeout_s: float


class FlowCollector(Collector):
    """The counters and the histogram, from one ``FlowCounts``."""

    def __init__(self, flow: FlowCounts) -> None:
        self.flow = flow

    def collect(self) -> Iterator[Metric]:
        flow = self.flow
        per_cluster = (
            ("backups_completed", flow.backups_completed, "Backups completed: distinct backup "
             "ids with a completion marker in the bucket or a generator commit on the branch"),
            ("backups_failed", flow.backups_failed, "Backup failures (backup.failed events) "
             "alert-router recorded a delivery of"),
            ("generations", flow.generations, "Backups generated into the branch: generator "
             "commits (an unchanged backup is an empty commit); each commit is one push"),
            ("commits", flow.commits, "Generator commits that changed the cluster's files"),
            ("generations_failed", flow.generations_failed, "Generation failures "
             "(gitops.failed events) alert-router recorded a delivery of"),
        )  # fmt: skip
        for name, counts, help_text in per_cluster:
            family = CounterMetricFamily(f"backup2gitops_{name}", help_text, labels=[CLUSTER_LABEL])
            for cluster, value in counts.items():
                family.add_metric([cluster], float(value))
            yield family
        deliveries = CounterMetricFamily(
            "backup2gitops_alert_deliveries",
            "Alert deliveries by receiver and outcome (delivered, rejected, failed), from "
            "alert-router's delivery records",
            labels=["receiver", "outcome"],
        )
        for (receiver, outcome), value in flow.deliveries.items():
            deliveries.add_metric([receiver, outcome], float(value))
        yield deliveries
        latency = HistogramMetricFamily(
            "backup2gitops_backup_to_commit_seconds",
            "Time from a backup's completion (Backup-Created-At trailer) to its commit",
            labels=[CLUSTER_LABEL],
        )
        for cluster, hist in flow.latency.items():
            buckets = [(_le(bound), float(count)) for bound, count in hist.buckets]
            buckets.append(("+Inf", float(hist.count)))
            latency.add_metric([cluster], buckets, sum_value=hist.sum)
        yield latency


def _le(bound: float) -> str:
    return f"{bound:.1f}" if float(bound).is_integer() else repr(float(bound))


def render(
    report: HealthReported,
    clusters: list[ClusterFacts],
    *,
    limits: Limits,
    flow: FlowCounts | None = None,
) -> bytes:
    registry = CollectorRegistry(auto_describe=True)

    def gauge(name: str, doc: str, labels: tuple[str, ...] = ()) -> Gauge:
        return Gauge(f"backup2gitops_{name}", doc, list(labels), registry=registry)

    last_backup = gauge(
        "last_backup_timestamp_seconds",
        "Completion time of the newest completed backup",
        (CLUSTER_LABEL,),
    )
    last_commit = gauge(
        "last_commit_timestamp_seconds",
        "Commit time of the newest commit with a Backup-Id trailer",
        (CLUSTER_LABEL,),
    )
    lag = gauge(
        "gitops_lag_seconds",
        "How long the newest completed backup has waited for its commit (0: committed)",
        (CLUSTER_LABEL,),
    )
    lagging = gauge(
        "gitops_lagging",
        "1 when the lag is over health.max_gitops_lag (gitops-lag/<cluster> is degraded)",
        (CLUSTER_LABEL,),
    )
    stale = gauge(
        "backup_stale",
        "1 when the newest completed backup is older than the cluster's max_backup_age",
        (CLUSTER_LABEL,),
    )
    stuck = gauge(
        "backup_stuck",
        "1 when a backup landed and for longer than health.max_gitops_lag is neither on the "
        "branch nor refused with a delivered alert (watchdog/<cluster> is unhealthy)",
        (CLUSTER_LABEL,),
    )
    max_age = gauge(
        "backup_max_age_seconds", "The cluster's max_backup_age, in seconds", (CLUSTER_LABEL,)
    )
    up = gauge("component_up", "1 when the component answers (healthy or degraded)", ("component",))
    component_status = gauge(
        "component_status",
        "1 for the component's current state (healthy, degraded, unhealthy), 0 for the others",
        ("component", "state"),
    )
    latency = gauge("check_latency_seconds", "How long the component's check took", ("component",))
    gauge("gitops_max_lag_seconds", "health.max_gitops_lag, in seconds").set(
        limits.max_gitops_lag_s
    )
    gauge("check_timeout_seconds", "health.check_timeout_s: a check taking longer fails").set(
        limits.check_timeout_s
    )
    overall = gauge(
        "health_status",
        "1 for the overall state (healthy, degraded, unhealthy), 0 for the others",
        ("state",),
    )
    for state, value in state_series(report.status).items():
        overall.labels(state).set(value)
    info = build_info_labels(version=_version(), python_version=platform.python_version())
    gauge("build_info", "1, with the running version in its labels", tuple(info)).labels(
        **info
    ).set(1.0)
    gauge(
        "flow_metrics_up",
        "1 when the flow counters could be derived from the branch, the bucket and "
        "alert-router's records; 0: they are left out of this scrape",
    ).set(1.0 if flow is not None else 0.0)
    for facts in clusters:
        if facts.last_backup is not None:
            last_backup.labels(facts.cluster).set(facts.last_backup.completed_at.timestamp())
        if facts.last_commit is not None:
            last_commit.labels(facts.cluster).set(facts.last_commit.committed_at.timestamp())
        if facts.lag_s is not None:
            lag.labels(facts.cluster).set(facts.lag_s)
        over = facts.lag_s is not None and facts.lag_s > limits.max_gitops_lag_s
        lagging.labels(facts.cluster).set(1.0 if over else 0.0)
        stale.labels(facts.cluster).set(1.0 if facts.stale else 0.0)
        stuck.labels(facts.cluster).set(1.0 if facts.stuck else 0.0)
        max_age.labels(facts.cluster).set(facts.max_age.total_seconds())
    for name, component in report.components.items():
        up.labels(name).set(0.0 if component.status == "unhealthy" else 1.0)
        for state, value in state_series(component.status).items():
            component_status.labels(name, state).set(value)
        latency.labels(name).set(component.latency_ms / 1000)
    if flow is not None:
        registry.register(FlowCollector(flow))
    return generate_latest(registry)
