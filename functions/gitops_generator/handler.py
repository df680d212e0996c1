"""gitops-generator: ``backup.completed`` in, one commit out, ``gitops.generated`` or ``gitops.failed``.

The handler checks the event, builds the generation job (``generation.GenerationJob``) and runs
it; lost push races are retried inside the job. Failures are raised, and classified in one place
(``runtime.failures``): what no retry can fix (a refused backup -- out of order, clock skew,
mass deletion --, an unreadable archive, refused credentials) is ``gitops.failed`` with
``retryable: false``; an outage (storage, even mid-read, or a git remote that does not answer
within ``git.timeout_s``) is a 503 the Broker redelivers, announced at once as ``gitops.failed``
with ``retryable: true`` on ``ctx.publish``, so the alert-router hears of it even when the
Broker later dead-letters the event. Past ``generator.retry_window_s`` an outage is raised as
``RetryWindowPassed`` and answered with that ``gitops.failed`` itself (no more redeliveries).
The handler builds no failure event: ``failure_event`` does, for the runtime, from the input
it decoded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from backup2gitops.adapters.storage import NotFound
from backup2gitops.core import bucket_layout, safeguards
from backup2gitops.core.errors import Backup2GitopsError, Rejected
from backup2gitops.core.events import (
    BACKUP_COMPLETED,
    GITOPS_FAILED,
    GITOPS_GENERATED,
    BackupCompleted,
    Event,
    GitopsFailed,
    GitopsGenerated,
    Received,
    function_source,
    stable_event_id,
)
from backup2gitops.runtime import failures
from backup2gitops.runtime.aws_lambda import lambda_adapter
from backup2gitops.runtime.context import FunctionContext
from backup2gitops.runtime.envelopes import data_of
from backup2gitops.runtime.http import FunctionSpec, http_target
from backup2gitops.runtime.logs import logger_for

if TYPE_CHECKING:  # git, the pipeline and the review host are loaded with the first event
    from backup2gitops.adapters.git import GitRemote

NAME = "gitops-generator"
SOURCE = function_source(NAME)


def remote_for(ctx: FunctionContext) -> GitRemote:
    from backup2gitops.adapters.git import GitRemote

    return GitRemote.configured(
        ctx.config.git, environ=ctx.environ, cache_dir=ctx.cache_dir / "git"
    )


def velero_clusters(ctx: FunctionContext) -> dict[str, str]:
    """Velero prefix (normalised, "" for the bucket root) -> cluster name."""
    return {
        c.velero_prefix.strip("/"): c.name
        for c in ctx.config.clusters
        if c.velero_prefix is not None
    }


class RetryWindowPassed(Backup2GitopsError):
    """An outage that outlived ``generator.retry_window_s``: permanent for the runtime, so it is
    answered with ``gitops.failed`` (``retryable: true``: a later backup may pass) instead of a
    503 the Broker is about to dead-letter (``within_retry_window``)."""

    permanent = True

    def __init__(self, outage: Backup2GitopsError) -> None:
        super().__init__(outage.message, code=outage.code)


def failed_event(
    event: Event, backup: BackupCompleted, *, code: str, message: str, retryable: bool
) -> Event:
    data = GitopsFailed(
        backup_id=backup.backup_id,
        cluster=backup.cluster,
        code=code,
        message=message,
        retryable=retryable,
    )
    return event.reply(
        type=GITOPS_FAILED,
        source=SOURCE,
        data=data,
        subject=f"{backup.cluster}/{backup.backup_id}",
        # a redelivery failing the same way repeats the id; a later success has its own
        id=stable_event_id(NAME, event.id, f"failed:{code}"),
    )


def failure_event(
    received: Received[BackupCompleted], failure: failures.Failure, _ctx: FunctionContext
) -> Event | None:
    """``gitops.failed`` for a failure that escaped ``handle`` (``runtime.failures.report``),
    from the ``backup.completed`` the runtime decoded (an event that did not decode is a 400)."""
    outage = isinstance(failure.error, RetryWindowPassed)
    return failed_event(
        received.event,
        received.data,
        code=failure.code,
        message=failure.message,
        retryable=outage or failures.retryable(failure),
    )


def within_retry_window(event: Event, ctx: FunctionContext) -> bool:
    """Whether an outage should be a 503 (the Broker redelivers) rather than ``gitops.failed``.

    Knative tells a subscriber nothing about the attempt; the event's ``time`` (kept on every
    redelivery) does. Past ``generator.retry_window_s`` the Broker is about to give up and
    dead-letter the event, so the failure is reported as an event the alert-router hears.
    """
    if event.time is None:
        return False
    age = (ctx.clock() - event.time).total_seconds()
    return age <= ctx.config.generator.retry_window_s


def handle_backup(received: Received[BackupCompleted], ctx: FunctionContext) -> Event | None:
    """One commit for the backup the event announces.

    Refused by the runtime before this runs (``INPUT``, 400): another event type, data that is
    not a valid ``backup.completed`` (backup id and cluster checked against their character
    sets: ``core.bucket_layout``). Refused here before anything is read: keys that are not where the
    bucket layout puts that cluster's backup (``Rejected``: 422, reported as ``gitops.failed``),
    a completion time the storage contradicts (``clock_skew``). The archive's size and sha256
    are checked while it streams. Failures are raised and classified by ``runtime.failures``;
    an outage past ``generator.retry_window_s`` is raised as ``RetryWindowPassed``.
    """
    from backup2gitops import generation
    from backup2gitops.adapters.review import review_branch, review_host
    from gitops_generator import drift_report

    event, backup = received.event, received.data
    try:
        keys = bucket_layout.backup_keys(
            backup.keys,
            format=backup.format,
            cluster=backup.cluster,
            backup_id=backup.backup_id,
            velero_clusters=velero_clusters(ctx),
        )
    except bucket_layout.LayoutError as exc:
        raise Rejected("keys_mismatch", str(exc)) from exc
    store = ctx.store_for(backup.bucket)  # the bucket, or one of storage.velero_buckets
    if store is None:
        raise Rejected(
            "bucket_mismatch",
            f"the backup is in bucket {backup.bucket!r}, not {ctx.store.bucket!r}",
        )
    remote = remote_for(ctx)
    subject = f"{backup.cluster}/{backup.backup_id}"
    reply_id = stable_event_id(NAME, event.id)
    review_url = None
    try:
        check_clock(backup, marker=keys.marker, archive=keys.archive, ctx=ctx)
        reviews = review_host(ctx.config.git.review, environ=ctx.environ)
        push_branch = (
            review_branch(cluster=backup.cluster, backup_id=backup.backup_id) if reviews else None
        )
        job = generation.GenerationJob.configured(
            ctx.config,
            archive=lambda: store.open_read(keys.archive),
            remote=remote,
            cluster=backup.cluster,
            backup_id=backup.backup_id,
            claims=generation.Claims(
                created_at=backup.created_at, items=backup.resource_count, complete=backup.complete
            ),
            environ=ctx.environ,
            push_branch=push_branch,
            archive_size=backup.size,
            archive_sha256=backup.sha256,
            compare=ctx.config.drift.enabled,
        )
        outcome = job.run()
        if reviews is not None and push_branch is not None:
            review_url = reviews.open(
                branch=push_branch,
                base=remote.branch,
                title=f"{backup.cluster}: backup {backup.backup_id}",
                body=generation.commit_message(
                    plan=outcome.plan, backup_id=backup.backup_id, result=outcome.commit
                ),
            ).url
    except NotFound as exc:
        raise Rejected("archive_missing", f"{keys.archive} is gone from the bucket") from exc
    except Backup2GitopsError as exc:
        if exc.permanent or within_retry_window(event, ctx):
            raise  # runtime.failures: gitops.failed, or a 503 announced as gitops.failed
        raise RetryWindowPassed(exc) from exc
    finally:
        for repair in remote.recoveries:  # a crashed run's leftovers, repaired
            logger_for(NAME).warning("work clone repaired", extra={"repair": repair})
    generated = GitopsGenerated(
        backup_id=backup.backup_id,
        cluster=backup.cluster,
        repository=remote.display_url,
        branch=push_branch or remote.branch,
        commit=outcome.commit.commit,
        added=outcome.commit.added,
        changed=outcome.commit.changed,
        removed=outcome.commit.removed,
        excluded=outcome.plan.excluded,
        excluded_by_reason=outcome.plan.excluded_by_reason,
        objects=outcome.plan.objects,
        duration_s=round(outcome.duration_s, 3),
        noop=outcome.commit.noop,
        reason=outcome.commit.reason,
        review_url=review_url,
        unmanaged=None if outcome.commit.noop else outcome.plan.unmanaged,
    )
    drift_report.publish(
        drift_report.drifted(event=event, backup=backup, remote=remote, outcome=outcome, ctx=ctx),
        ctx,
    )
    return event.reply(
        type=GITOPS_GENERATED, source=SOURCE, data=generated, subject=subject, id=reply_id
    )


def check_clock(
    backup: BackupCompleted, *, marker: str, archive: str, ctx: FunctionContext
) -> None:
    """Refuse (``clock_skew``) a backup said to complete after its completion marker was
    stored: the marker's last-modified time is the storage's word, the event's ``created_at``
    the producer's (or a forger's). Trusted, a date in the future would freeze the branch."""
    # A marker gone since (retention) leaves the archive's time, written before the marker;
    # neither there: the archive's read answers archive_missing.
    info = ctx.store.stat(marker) or ctx.store.stat(archive)
    if info is None:
        return
    # backup-complete's tolerance: the two checks never disagree on the same backup
    tolerance = ctx.config.backup_complete.clock_skew_tolerance
    refusal = safeguards.clock_skew(
        created_at=backup.created_at, marker_modified=info.last_modified, tolerance=tolerance
    )
    if refusal is not None:
        from backup2gitops.generation import BackupRefused

        raise BackupRefused("clock_skew", refusal)


INPUT = data_of(NAME, BACKUP_COMPLETED, BackupCompleted)
"""The one input: ``backup.completed``, its data decoded once (``runtime.envelopes``)."""
SPEC = FunctionSpec(name=NAME, handle=handle_backup, envelope=INPUT, failure_event=failure_event)
handle = SPEC.handle_event
"""An event in, decoded like the runtime does (the CLI, in-process tests)."""
gitops_generator = http_target(SPEC)
lambda_handler = lambda_adapter(SPEC)
