"""health-aggregator's measurement: every check at once (storage, git, probes, each cluster's
freshness and lag, the watchdog) -> one ``HealthReported`` and the per-cluster facts.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from backup2gitops.adapters import probes
from backup2gitops.adapters.git import remote_reads
from backup2gitops.adapters.git.credentials import remote_access
from backup2gitops.adapters.storage import StorageError
from backup2gitops.core import alerts, health
from backup2gitops.core.events import HealthReported
from backup2gitops.core.health import BackupMark, CheckResult, ClusterFacts, CommitMark
from backup2gitops.runtime.context import FunctionContext
from backup2gitops.runtime.logs import logger_for
from health_aggregator import newest_backups
from health_aggregator.check_runner import Check, Task, run_all
from health_aggregator.generated_state import generated_commit, generated_mark

logger = logger_for("health-aggregator")


@dataclass(frozen=True)
class Measurement:
    report: HealthReported
    clusters: list[ClusterFacts]


def _checks(ctx: FunctionContext) -> list[Check]:
    config = ctx.config
    timeout = config.health.check_timeout_s
    url, token = remote_access(config.git, ctx.environ)

    def storage() -> str:
        first = next(iter(ctx.store.list("backups/")), None)
        # the store's URL: "s3://backups reachable", not "bucket bucket reachable"
        return f"{ctx.store.url} reachable" + ("" if first else " (no backups yet)")

    def git() -> str:
        head = remote_reads.ls_remote(
            url, branch=config.git.branch, timeout_s=timeout, secret=token
        )
        return f"{config.git.branch} at {head[:12]}"

    checks = [Check("storage", storage, critical=True), Check("git", git, critical=True)]
    if config.storage.health_url:
        minio = config.storage.health_url.rstrip("/") + "/minio/health/cluster"
        checks.append(
            Check("storage/cluster", lambda: probes.probe_url(minio, timeout_s=timeout), True)
        )
    if config.health.kubernetes:
        checks += _kubernetes_checks(ctx)
    for receiver in config.alerts.receivers:
        if receiver.health_url:
            target = receiver.health_url
            checks.append(
                Check(
                    f"receiver/{receiver.name}",
                    functools.partial(probes.probe_url, target, timeout_s=timeout),
                )
            )
    return checks


def _kubernetes_checks(ctx: FunctionContext) -> list[Check]:
    cfg = ctx.config.health
    timeout = cfg.check_timeout_s
    token = cfg.kubernetes_token.reveal(ctx.environ)
    verify = probes.verify_for(cfg.kubernetes_ca)

    def api() -> str:
        return probes.kube_readyz(cfg.kubernetes_url, timeout_s=timeout, token=token, verify=verify)

    def service(name: str) -> str:
        ready, message = probes.knative_service_ready(
            cfg.kubernetes_url,
            namespace=cfg.namespace,
            name=name,
            timeout_s=timeout,
            token=token,
            verify=verify,
        )
        if not ready:
            raise probes.ProbeError(message)
        return message

    checks = [Check("kubernetes", api, critical=True)]
    checks += [
        Check(f"knative/{name}", functools.partial(service, name)) for name in cfg.knative_services
    ]
    return checks


def _tasks(ctx: FunctionContext) -> list[Task]:
    config = ctx.config
    url, token = remote_access(config.git, ctx.environ)
    cache = remote_reads.cache_dir_for(
        config.git.url, Path(config.git.cache_dir) if config.git.cache_dir else None
    )

    def commits() -> dict[str, CommitMark]:
        return remote_reads.newest_backup_commits(
            url,
            branch=config.git.branch,
            depth=config.health.git_log_depth,
            timeout_s=config.health.check_timeout_s,
            cache_dir=cache,
            secret=token,
        )

    return [
        Task("backups", lambda: newest_backups.newest_backups(ctx.store, config.clusters)),
        Task("commits", commits),
    ]


def measure(ctx: FunctionContext) -> Measurement:
    config = ctx.config
    results, values = run_all(_checks(ctx), _tasks(ctx), timeout_s=config.health.check_timeout_s)
    now = ctx.clock()
    found_backups, found_commits = values["backups"], values["commits"]
    marks: dict[str, BackupMark] = found_backups if isinstance(found_backups, dict) else {}
    heads: dict[str, CommitMark] = found_commits if isinstance(found_commits, dict) else {}
    sources = {c.name: c for c in config.clusters}
    facts: list[ClusterFacts] = []
    for cluster in sorted(set(sources) | set(marks)):
        source = sources.get(cluster)
        max_age = (source.max_backup_age if source else None) or config.health.max_backup_age
        newest = marks.get(cluster)
        commit = health.best_commit(newest, heads.get(cluster), generated_commit(ctx, cluster))
        if isinstance(found_backups, BaseException):
            results.append(
                CheckResult(
                    f"freshness/{cluster}", "unhealthy", message=f"cannot list: {found_backups}"
                )
            )
        else:
            results.append(
                health.freshness(cluster=cluster, newest=newest, max_age=max_age, now=now)
            )
        if isinstance(found_commits, BaseException):
            results.append(
                CheckResult(
                    f"gitops-lag/{cluster}",
                    "degraded",
                    message=f"cannot read the branch: {found_commits}",
                )
            )
        else:
            lag, _ = health.gitops_lag(
                cluster=cluster,
                newest=newest,
                commit=commit,
                max_lag=config.health.max_gitops_lag,
                now=now,
            )
            results.append(lag)
        verdict = None
        if not isinstance(found_backups, BaseException) and not isinstance(
            found_commits, BaseException
        ):
            verdict = _watch(ctx, cluster, newest, heads.get(cluster), results, now=now)
        facts.append(
            replace(
                health.cluster_facts(
                    cluster=cluster, newest=newest, commit=commit, max_age=max_age, now=now
                ),
                stuck=verdict,
            )
        )
    return Measurement(report=health.build_report(results, checked_at=now), clusters=facts)


def _watch(
    ctx: FunctionContext,
    cluster: str,
    newest: BackupMark | None,
    on_branch: CommitMark | None,
    results: list[CheckResult],
    *,
    now: datetime,
) -> health.Stuck | None:
    """The watchdog of ``cluster`` (``core.health.stuck``): appends its component to
    ``results``; the refusal record is read only for a backup the branch does not name."""
    refused = False
    if newest is not None and (on_branch is None or on_branch.backup_id != newest.backup_id):
        key = alerts.refusal_key(ctx.config.alerts.refusals_prefix, cluster, newest.backup_id)
        try:
            refused = ctx.store.stat(key) is not None
        except StorageError as exc:
            results.append(
                CheckResult(f"watchdog/{cluster}", "degraded", message=f"cannot read: {exc}")
            )
            return None
    max_lag = ctx.config.health.max_gitops_lag
    waiting = newest is not None and (on_branch is None or on_branch.backup_id != newest.backup_id)
    verdict = health.stuck(
        newest=newest,
        on_branch=on_branch,
        refused=refused,
        generated=generated_mark(ctx, cluster) if waiting and not refused else None,
        max_lag=max_lag,
        now=now,
        unchanged_is_progress=not ctx.config.generator.record_unchanged,
    )
    results.append(
        health.watchdog(
            cluster=cluster,
            newest=newest,
            on_branch=on_branch,
            refused=refused,
            verdict=verdict,
            max_lag=max_lag,
        )
    )
    return verdict
