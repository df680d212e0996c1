"""gitops-generator: ``backup.completed`` in, one commit out, ``gitops.generated`` or ``gitops.failed``.

Retries of a lost push race happen inside (fetch, re-apply, push; bounded). What is left is
reported truthfully: ``gitops.failed`` with ``retryable`` says whether trying again may help.
A storage outage while reading the archive is a 503, so the broker redelivers the event.
"""

from __future__ import annotations

from backup2gitops import generation
from backup2gitops.adapters.gitrepo import GitError, GitRemote
from backup2gitops.adapters.review import ReviewError, review_branch, review_host
from backup2gitops.adapters.sops import SopsEncrypter, SopsError
from backup2gitops.adapters.storage import NotFound, StorageError
from backup2gitops.core.archive import ArchiveError
from backup2gitops.core.errors import InvalidInput, Transient
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
from backup2gitops.runtime.aws_lambda import lambda_adapter
from backup2gitops.runtime.context import FunctionContext
from backup2gitops.runtime.http import FunctionSpec, http_target
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


def handle(event: Event, ctx: FunctionContext) -> Event | None:
    if event.type != BACKUP_COMPLETED:
        raise InvalidInput(
            "unexpected_type", f"{NAME} handles {BACKUP_COMPLETED}, not {event.type}"
        )
    backup = parse_data(event, BackupCompleted)
    archive_key = backup.keys[-1]
    remote = remote_for(ctx)
    subject = f"{backup.cluster}/{backup.backup_id}"
    reply_id = stable_event_id(NAME, event.id)

    def failed(code: str, message: str, *, retryable: bool) -> Event:
        data = GitopsFailed(
            backup_id=backup.backup_id,
            cluster=backup.cluster,
            code=code,
            message=message,
            retryable=retryable,
        )
        return event.reply(
            type=GITOPS_FAILED, source=SOURCE, data=data, subject=subject, id=reply_id
        )

    policy = ctx.config.generator.cleaning
    review_url = None
    try:
        reviews = review_host(ctx.config.git.review, environ=ctx.environ)
        push_branch = (
            review_branch(cluster=backup.cluster, backup_id=backup.backup_id) if reviews else None
        )
        encrypt = (
            SopsEncrypter(recipients=ctx.config.generator.sops_age_recipients)
            if policy.secrets == "sops"
            else None
        )
        outcome = generation.generate(
            archive=lambda: ctx.store.open_read(archive_key),
            remote=remote,
            cluster=backup.cluster,
            backup_id=backup.backup_id,
            policy=policy,
            transforms=load_transforms(ctx.config.generator.transforms),
            encrypt=encrypt,
            record_unchanged=ctx.config.generator.record_unchanged,
            push_branch=push_branch,
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
        return failed("archive_missing", f"{archive_key} is gone from the bucket", retryable=False)
    except StorageError as exc:
        if exc.retryable:
            raise Transient("storage_unavailable", str(exc)) from exc
        return failed("storage_error", str(exc), retryable=False)
    except ArchiveError as exc:
        return failed(f"archive_{exc.code}", str(exc), retryable=False)
    except GitError as exc:
        return failed(exc.code, exc.message, retryable=exc.retryable)
    except SopsError as exc:
        return failed("sops_failed", str(exc), retryable=False)
    except ReviewError as exc:
        return failed("review_failed", str(exc), retryable=exc.retryable)
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
        objects=outcome.plan.objects,
        duration_s=round(outcome.duration_s, 3),
        noop=outcome.commit.noop,
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


SPEC = FunctionSpec(name=NAME, handle=handle)
gitops_generator = http_target(SPEC)
lambda_handler = lambda_adapter(SPEC)
