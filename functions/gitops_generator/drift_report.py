"""The drift report of one commit: ``gitops.drifted`` beside ``gitops.generated``.

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
from backup2gitops.runtime.context import FunctionContext
from backup2gitops.runtime.logs import logger_for

NAME = "gitops-generator"
logger = logger_for(NAME)


def drifted(
    *,
    event: Event,
    backup: BackupCompleted,
    remote: GitRemote | LocalWorkTree,
    commit: str,
    ctx: FunctionContext,
) -> Event | None:
    """``gitops.drifted`` for ``commit`` against its parent, or None (no findings, or disabled)."""
    policy = ctx.config.drift
    if not policy.enabled or not commit:
        return None
    try:
        read = remote.changes(
            commit=commit,
            root=PurePosixPath("clusters") / backup.cluster,
            backup_id=backup.backup_id,
            cluster=backup.cluster,
        )
        if read is None:
            return None
        roles = read.roles(drift.referenced_roles(read.changes), cluster=backup.cluster)
    except GitError as exc:  # the commit is pushed; the redelivery compares it again
        raise Transient("drift_unreadable", exc.message) from exc
    found = drift.findings(read.changes, facts=drift.Facts(roles=roles), policy=policy)
    if not found:
        return None
    data = GitopsDrifted(
        cluster=backup.cluster,
        backup_id=backup.backup_id,
        commit=read.commit,
        previous_commit=read.previous,
        findings=found,
    )
    reply = event.reply(
        type=GITOPS_DRIFTED,
        source=function_source(NAME),
        data=data,
        subject=f"{backup.cluster}/{backup.backup_id}",
        id=stable_event_id(NAME, GITOPS_DRIFTED, backup.cluster, read.commit),
    )
    return reply.model_copy(update={"time": ctx.clock()})


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
