"""gitops-generator: ``backup.completed`` in, one commit out, ``gitops.generated`` or ``gitops.failed``.

Retries of a lost push race happen inside (fetch, re-apply, push; bounded). What is left is
reported truthfully: an outage (storage, even mid-read, or the git remote) is a 503 while the
event is younger than ``generator.retry_window_s``, so the Broker redelivers it; after that, and
for what no retry can fix, ``gitops.failed`` with ``retryable`` saying whether trying again may help. A storage outage also
goes to ``ctx.publish`` as ``gitops.failed`` (``retryable: true``) when there is one. Anything else
that fails -- an object name that cannot be a path, an unreadable or altered archive, an error
nobody expected -- is ``gitops.failed`` with ``retryable: false`` (``runtime.failures``), never a
500 retried into the dead-letter sink.
"""

from __future__ import annotations

from backup2gitops import generation
from backup2gitops.adapters.gitrepo import GitError, GitRemote
from backup2gitops.adapters.review import ReviewError, review_branch, review_host
from backup2gitops.adapters.sops import SopsError, encrypter_for
from backup2gitops.adapters.storage import NotFound, StorageError
from backup2gitops.core import layout
from backup2gitops.core.archive import ArchiveError
from backup2gitops.core.errors import InvalidInput, Rejected, Transient
from backup2gitops.core.events import (
    BACKUP_COMPLETED,
    GITOPS_FAILED,
    GITOPS_GENERATED,
    BackupCompleted,
    Event,
    GitopsFailed,
    GitopsGenerated,
    function_source,
    parse_data,
    stable_event_id,
)
from backup2gitops.runtime import failures
from backup2gitops.runtime.aws_lambda import lambda_adapter
from backup2gitops.runtime.context import FunctionContext
from backup2gitops.runtime.http import FunctionSpec, http_target
from backup2gitops.runtime.logs import logger_for
from backup2gitops.transforms import load_transforms
from gitops_generator import drift_report

NAME = "gitops-generator"
SOURCE = function_source(NAME)


def remote_for(ctx: FunctionContext) -> GitRemote:
    git = ctx.config.git
    return GitRemote(
        url=git.url,
        branch=git.branch,
        cache_dir=git.cache_dir or ctx.cache_dir / "git",
        author_name=git.author_name,
        author_email=git.author_email,
        token=git.token.reveal(ctx.environ),
        token_user=git.token_user,
        push_attempts=git.push_attempts,
    )


def velero_clusters(ctx: FunctionContext) -> dict[str, str]:
    """Velero prefix (normalised, "" for the bucket root) -> cluster name."""
    return {
        c.velero_prefix.strip("/"): c.name
        for c in ctx.config.clusters
        if c.velero_prefix is not None
    }


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


def failure_event(event: Event, failure: failures.Failure, _ctx: FunctionContext) -> Event | None:
    """``gitops.failed`` for a failure that escaped ``handle`` (``runtime.failures.report``):
    any event whose data is a valid ``backup.completed``."""
    if event.type != BACKUP_COMPLETED:
        return None
    try:
        backup = parse_data(event, BackupCompleted)
    except InvalidInput:
        return None
    return failed_event(
        event,
        backup,
        code=failure.code,
        message=failure.message,
        retryable=failures.retryable(failure),
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


def handle(event: Event, ctx: FunctionContext) -> Event | None:
    """One commit for the backup ``event`` announces.

    Refused before anything is read: another event type, data that is not a valid
    ``backup.completed`` (backup id and cluster checked against their character sets:
    ``core.layout``), keys that are not where the bucket layout puts that cluster's backup
    (``Rejected``: 422, reported as ``gitops.failed``). The archive's size and sha256 are
    checked while it streams. Git and review failures are replies (``gitops.failed`` with
    ``retryable``); everything else is classified by ``runtime.failures``.
    """
    if event.type != BACKUP_COMPLETED:
        raise InvalidInput(
            "unexpected_type", f"{NAME} handles {BACKUP_COMPLETED}, not {event.type}"
        )
    backup = parse_data(event, BackupCompleted)
    try:
        keys = layout.backup_keys(
            backup.keys,
            format=backup.format,
            cluster=backup.cluster,
            backup_id=backup.backup_id,
            velero_clusters=velero_clusters(ctx),
        )
    except layout.LayoutError as exc:
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

    def failed(code: str, message: str, *, retryable: bool) -> Event:
        return failed_event(event, backup, code=code, message=message, retryable=retryable)

    policy = ctx.config.generator.cleaning
    review_url = None
    try:
        reviews = review_host(ctx.config.git.review, environ=ctx.environ)
        push_branch = (
            review_branch(cluster=backup.cluster, backup_id=backup.backup_id) if reviews else None
        )
        encrypt = encrypter_for(ctx.config.generator, environ=ctx.environ)
        outcome = generation.generate(
            archive=lambda: store.open_read(keys.archive),
            remote=remote,
            cluster=backup.cluster,
            backup_id=backup.backup_id,
            policy=policy,
            transforms=load_transforms(ctx.config.generator.transforms),
            encrypt=encrypt,
            record_unchanged=ctx.config.generator.record_unchanged,
            push_branch=push_branch,
            archive_size=backup.size,
            archive_sha256=backup.sha256,
            claims=generation.Claims(
                created_at=backup.created_at,
                items=backup.resource_count,
                complete=backup.complete,
                max_deletion_share=ctx.config.generator.max_deletion_share,
            ),
            limits=ctx.config.archive_limits.limits(),
            layout=ctx.config.layout(),
        )
        if reviews is not None and push_branch is not None:
            review_url = reviews.open(
                branch=push_branch,
                base=remote.branch,
                title=f"{backup.cluster}: backup {backup.backup_id}",
                body=generation.commit_message(
                    plan=outcome.plan, backup_id=backup.backup_id, result=outcome.commit
                ),
            ).url
    except NotFound:
        return failed("archive_missing", f"{keys.archive} is gone from the bucket", retryable=False)
    except StorageError as exc:
        if exc.retryable and within_retry_window(event, ctx):
            raise Transient("storage_unavailable", str(exc)) from exc
        code = "storage_unavailable" if exc.retryable else "storage_error"
        return failed(code, str(exc), retryable=exc.retryable)
    except ArchiveError as exc:
        return failed(exc.code, exc.message, retryable=False)
    except generation.BackupRefused as exc:
        return failed(exc.code, exc.message, retryable=False)
    except GitError as exc:
        if exc.retryable and within_retry_window(event, ctx):
            raise Transient(exc.code, exc.message) from exc
        return failed(exc.code, exc.message, retryable=exc.retryable)
    except (SopsError, ReviewError) as exc:  # a reply either way: alert-router hears of it
        return failed(exc.code, exc.message, retryable=exc.retryable)
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
    )
    drift_report.publish(
        drift_report.drifted(
            event=event, backup=backup, remote=remote, commit=outcome.commit.commit, ctx=ctx
        ),
        ctx,
    )
    return event.reply(
        type=GITOPS_GENERATED, source=SOURCE, data=generated, subject=subject, id=reply_id
    )


SPEC = FunctionSpec(name=NAME, handle=handle, failure_event=failure_event)
gitops_generator = http_target(SPEC)
lambda_handler = lambda_adapter(SPEC)
