"""backup-complete: an object was written -- does it complete a backup, and is that backup sound?

Input, whatever the transport: the notifications of one payload (``Received`` of
``ObjectNotification`` records), parsed ONCE by the runtime (``runtime.envelopes.NOTIFICATIONS``,
``core.notifications``) from:

- a MinIO webhook POST (not a CloudEvent): ``SPEC.plain_json`` parses it and wraps it as a
  ``STORAGE_OBJECT`` event; the bearer token, when one is configured, is checked first, before the body is read, for
  this and every other shape (401 and nothing else when it is missing or wrong);
- a CloudEvent, binary or structured, whose data is a MinIO body, S3 records or an EventBridge
  event (a Knative source, a KafkaSource's ``dev.knative.kafka.event``, ...);
- on Lambda (``lambda_handler``): an S3 notification or an EventBridge "Object Created" event.

For each created object: a native ``manifest.json`` or ``resources.tar.gz``, or a Velero
``velero-backup.json`` or ``<name>.tar.gz``, is checked (``native``, ``velero``) and gives
``backup.completed`` or ``backup.failed``. Anything else -- another object, a delete, a Velero
phase that is not final -- gives no event (202) and one debug log line.

Decisions worth knowing:

- The archive's own put re-checks the backup when its manifest already exists. The manifest is
  written last by design, so normally it does not yet; but a writer that wrote the manifest first
  got ``backup.failed`` (``archive_missing``) and now gets its ``backup.completed``, and a
  notification delivered late reaches the same verdict as the manifest's.
- Event id = ``stable_event_id(bucket, marker key, marker etag, outcome)`` where the marker is the
  manifest or velero-backup.json and the outcome ``completed`` or ``failed:<code>``. A redelivery,
  or the archive's notification reaching the same verdict, gets the same id (downstream dedupes on
  it); a different verdict on the same marker (the archive arrived after all) gets a new id.
  Velero's tarball rewritten after the final JSON therefore repeats the same completion id.
- ``keys`` in the events are bucket keys (as notifications name them), beside ``bucket``.
- Storage credentials the bucket refuses (S3 403: ``AccessDenied``, ``InvalidAccessKeyId``,
  ``SignatureDoesNotMatch``) are ``backup.failed`` with code ``storage_forbidden`` and a message
  naming the settings to fix -- an alert, not a 503 MinIO would retry for ever (issue 22 item 12).
  Its id is made of the notified object's key and etag, so a redelivery repeats it.
- A notification for another bucket, or outside the configured storage prefix, is ignored with a
  warning (not a 4xx: MinIO's queue would block behind it).
- Several records in one payload (AWS may batch; MinIO never does): each is handled; the first
  reply is the answer and the others go to ``ctx.publish``. Without a publisher (``$K_SINK``, or
  the Lambda adapter's EventBridge bus) the others cannot be delivered over one HTTP response:
  they are logged at error level with their ids -- the known limitation of the HTTP transport.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from backup2gitops.adapters.storage import StorageForbidden
from backup2gitops.core import bucket_layout
from backup2gitops.core.events import (
    BACKUP_COMPLETED,
    BACKUP_FAILED,
    BackupCompleted,
    BackupFailed,
    Event,
    Received,
    function_source,
    stable_event_id,
)
from backup2gitops.core.notifications import (
    ObjectNotification,
    ObjectNotifications,
    storage_received,
)
from backup2gitops.runtime.aws_lambda import lambda_adapter
from backup2gitops.runtime.context import FunctionContext
from backup2gitops.runtime.envelopes import NOTIFICATIONS
from backup2gitops.runtime.http import FunctionSpec, http_target
from backup2gitops.runtime.logs import logger_for

if TYPE_CHECKING:  # the checks (and the archive reader) are loaded with the first notification
    from backup2gitops.config import Config
    from backup_complete.bucket_checks import Verdict

NAME = "backup-complete"
SOURCE = function_source(NAME)
WEBHOOK_SOURCE = f"{SOURCE}/webhook"
"""The source of the event made of a plain (non-CloudEvent) notification POST."""


def handle_notifications(
    received: Received[ObjectNotifications], ctx: FunctionContext
) -> Event | None:
    replies = [
        reply
        for notification in received.data
        if (reply := decide(notification, event=received.event, ctx=ctx)) is not None
    ]
    if len(replies) > 1:
        publish_others(replies[1:], ctx=ctx)
    return replies[0] if replies else None


def decide(notification: ObjectNotification, *, event: Event, ctx: FunctionContext) -> Event | None:
    """The reply one notification calls for, or None."""
    from backup_complete import native, velero
    from backup_complete.bucket_checks import Bucket, Verdict

    logger = logger_for(NAME)
    where = {"bucket": notification.bucket, "key": notification.key}
    if not notification.created:
        logger.debug(
            "ignored: not an object creation", extra={**where, "name": notification.event_name}
        )
        return None
    store = ctx.store_for(notification.bucket)  # the bucket, or one of storage.velero_buckets
    bucket = Bucket(store or ctx.store, limits=ctx.config.archive_limits.limits())
    if store is None or not bucket.holds(notification.key):
        logger.warning(
            "ignored: outside the configured storage", extra={**where, "storage": ctx.store.url}
        )
        return None
    clusters = velero_clusters(ctx.config)
    backup = bucket_layout.parse_key(notification.key, velero_prefixes=("", *clusters))
    if backup is None or backup.role == "other":
        logger.debug("ignored: not a backup's marker or archive", extra=where)
        return None
    verdict: Verdict | None
    tolerance = ctx.config.backup_complete.clock_skew_tolerance
    try:
        if backup.format == "native":
            supported = ctx.config.backup_complete.supported_format_versions
            verdict = native.check(
                bucket, backup, supported_versions=supported, clock_skew_tolerance=tolerance
            )
        else:
            verdict = velero.check(
                bucket, backup, clusters=clusters, now=ctx.clock(), clock_skew_tolerance=tolerance
            )
    except StorageForbidden as exc:  # retried, it is refused again: announce it (an alert)
        logger.error("the storage refused our credentials", extra={**where, "error": exc.message})
        data = BackupFailed(
            cluster=backup.cluster,
            backup_id=backup.backup_id,
            key=notification.key,
            code=exc.code,
            message=exc.message,
        )
        verdict = Verdict(notification.key, notification.etag or "", data)
    if verdict is None:
        logger.debug("no verdict: not complete (yet), or gone", extra=where)
        return None
    return reply_for(verdict, event=event, bucket=bucket.name)


def velero_clusters(config: Config) -> dict[str, str]:
    """Velero prefix (normalised, "" for the bucket root) -> cluster name."""
    return {
        c.velero_prefix.strip("/"): c.name for c in config.clusters if c.velero_prefix is not None
    }


def reply_for(verdict: Verdict, *, event: Event, bucket: str) -> Event:
    data = verdict.data
    completed = isinstance(data, BackupCompleted)
    subject = f"{data.cluster}/{data.backup_id}" if data.cluster and data.backup_id else None
    return event.reply(
        id=stable_event_id(bucket, verdict.marker_key, verdict.marker_etag, verdict.outcome),
        type=BACKUP_COMPLETED if completed else BACKUP_FAILED,
        source=SOURCE,
        subject=subject,
        cluster=data.cluster,
        data=data,
    )


def publish_others(replies: list[Event], *, ctx: FunctionContext) -> None:
    if ctx.publish is None:
        logger_for(NAME).error(
            "several replies and no publisher: only the first is answered",
            extra={"dropped": [(r.type, r.id, r.subject) for r in replies]},
        )
        return
    for reply in replies:
        ctx.publish(reply)


SPEC = FunctionSpec(
    name=NAME,
    handle=handle_notifications,
    envelope=NOTIFICATIONS,
    plain_json=lambda payload: storage_received(payload, source=WEBHOOK_SOURCE),
    token=lambda ctx: ctx.config.backup_complete.webhook_token,
    # A configured token guards every input shape, CloudEvents too (four ``ce-`` headers on a
    # webhook body must not skip it). The KafkaSource path, whose Broker sends no token, runs
    # with no webhook token and ``allow_unauthenticated: true`` behind a NetworkPolicy.
    allow_unauthenticated=lambda ctx: ctx.config.backup_complete.allow_unauthenticated,
)
handle = SPEC.handle_event
"""An event in, decoded like the runtime does (the CLI, in-process tests)."""
backup_complete = http_target(SPEC)
"""The functions-framework target: ``--target backup_complete --signature-type http``."""
lambda_handler = lambda_adapter(SPEC)
"""The AWS Lambda handler."""
