"""The drift report of one commit: ``gitops.drifted`` beside ``gitops.generated``.

The commit is compared with its parent from the plan that made it (``Outcome.compared``: the
objects the pipeline wrote, against the tip's files they replaced, ``core.drift.TipComparison``),
not read back from git. A redelivered ``backup.completed`` finds its commit already on the branch:
the no-op has no plan, so that case alone reads the same comparison back from git
(``adapters.git.changes.commit_comparison``: the commit diffed against its parent, both sides
parsed); the findings are the same, and so is the event id.

A function answers one event over HTTP, so the report leaves through ``ctx.publish``: the
SinkBinding's ``$K_SINK`` on Knative (knative/base/sinkbinding.yaml), the EventBridge bus on
Lambda, the broker's ingress under ``backup2gitops serve`` / ``demo``. It is published before
the reply; a failed publish is a 503, and the redelivered ``backup.completed`` finds its commit
already on the branch (a no-op), compares the same two commits again and publishes the same
event id, which alert-router delivers once. No findings, no event.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from backup2gitops.adapters.git import GitError, GitRemote, LocalWorkTree
from backup2gitops.core import drift
from backup2gitops.core.errors import Transient
from backup2gitops.core.events import (
    GITOPS_DRIFTED,
    BackupCompleted,
    Event,
    GitopsDrifted,
    function_source,
    stable_event_id,
)
from backup2gitops.generation import Outcome
from backup2gitops.runtime.context import FunctionContext
from backup2gitops.runtime.logs import logger_for

NAME = "gitops-generator"
logger = logger_for(NAME)


def drifted(
    *,
    event: Event,
    backup: BackupCompleted,
    remote: GitRemote | LocalWorkTree,
    outcome: Outcome,
    ctx: FunctionContext,
) -> Event | None:
    """``gitops.drifted`` for the outcome's commit against its parent, or None (no findings, a
    cluster's first commit, or disabled)."""
    policy = ctx.config.drift
    if not policy.enabled or not outcome.commit.commit:
        return None
    if outcome.commit.noop:
        compared = read_back(remote, commit=outcome.commit.commit, backup=backup)
    else:
        compared = outcome.compared
    if compared is None:
        return None
    found = drift.findings(compared.changes, facts=drift.Facts(roles=compared.roles), policy=policy)
    if not found:
        return None
    data = GitopsDrifted(
        cluster=backup.cluster,
        backup_id=backup.backup_id,
        commit=compared.commit,
        previous_commit=compared.previous,
        findings=found,
    )
    reply = event.reply(
        type=GITOPS_DRIFTED,
        source=function_source(NAME),
        data=data,
        subject=f"{backup.cluster}/{backup.backup_id}",
        id=stable_event_id(NAME, GITOPS_DRIFTED, backup.cluster, compared.commit),
    )
    return reply.model_copy(update={"time": ctx.clock()})


def read_back(
    remote: GitRemote | LocalWorkTree, *, commit: str, backup: BackupCompleted
) -> drift.Comparison | None:
    """The redelivery case: ``commit`` (already on the branch, this backup's or None) compared
    with its parent by reading both back from git."""
    try:
        return remote.commit_comparison(
            commit=commit,
            root=PurePosixPath("clusters") / backup.cluster,
            backup_id=backup.backup_id,
            cluster=backup.cluster,
        )
    except GitError as exc:  # the commit is pushed; the redelivery compares it again
        raise Transient("drift_unreadable", exc.message) from exc


def publish(report: Event | None, ctx: FunctionContext) -> None:
    """Send the report to the broker; a failure raises (Transient), so the backup is retried."""
    if report is None:
        return
    count = len(report.data["findings"])
    if ctx.publish is None:
        logger.error(
            "drift findings not sent: no publisher (K_SINK or the EventBridge bus)",
            extra={"findings": count, "reply_id": report.id},
        )
        return
    ctx.publish(report)
    logger.info("drift reported", extra={"findings": count, "reply_id": report.id})
