"""The flow's figures in Prometheus text format, from one measurement.

A fresh ``CollectorRegistry`` per request: no process-global metric state, so two requests
(or two tests) never see each other's values.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Gauge, generate_latest

from backup2gitops.core.events import HealthReported
from backup2gitops.core.health import ClusterFacts

STATUS_VALUE = {"healthy": 1.0, "degraded": 0.5, "unhealthy": 0.0}


def render(report: HealthReported, clusters: list[ClusterFacts]) -> bytes:
    registry = CollectorRegistry(auto_describe=True)
    last_backup = Gauge(
        "backup2gitops_last_backup_timestamp_seconds",
        "Completion time of the newest completed backup",
        ["cluster"],
        registry=registry,
    )
    last_commit = Gauge(
        "backup2gitops_last_commit_timestamp_seconds",
        "Commit time of the newest commit with a Backup-Id trailer",
        ["cluster"],
        registry=registry,
    )
    lag = Gauge(
        "backup2gitops_gitops_lag_seconds",
        "How long the newest completed backup has waited for its commit (0: committed)",
        ["cluster"],
        registry=registry,
    )
    stale = Gauge(
        "backup2gitops_backup_stale",
        "1 when the newest completed backup is older than the allowed maximum",
        ["cluster"],
        registry=registry,
    )
    up = Gauge(
        "backup2gitops_component_up",
        "1 healthy, 0.5 degraded, 0 unhealthy",
        ["component"],
        registry=registry,
    )
    latency = Gauge(
        "backup2gitops_check_latency_seconds",
        "How long the component's check took",
        ["component"],
        registry=registry,
    )
    overall = Gauge(
        "backup2gitops_health_status",
        "Overall: 1 healthy, 0.5 degraded, 0 unhealthy",
        registry=registry,
    )
    overall.set(STATUS_VALUE[report.status])
    for facts in clusters:
        if facts.last_backup is not None:
            last_backup.labels(facts.cluster).set(facts.last_backup.completed_at.timestamp())
        if facts.last_commit is not None:
            last_commit.labels(facts.cluster).set(facts.last_commit.committed_at.timestamp())
        if facts.lag_s is not None:
            lag.labels(facts.cluster).set(facts.lag_s)
        stale.labels(facts.cluster).set(1.0 if facts.stale else 0.0)
    for name, component in report.components.items():
        up.labels(name).set(STATUS_VALUE[component.status])
        latency.labels(name).set(component.latency_ms / 1000)
    return generate_latest(registry)
