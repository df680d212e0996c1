"""cluster-backup: a PingSource tick or ``backup.requested`` in, one native backup out.

The kube client is built per invocation (``api_client_from``: the pod's service account, or a
kubeconfig and context from ``cluster_backup``). Objects stream from the API server into
``backups/<cluster>/<backup-id>/resources.tar.gz``; ``manifest.json`` is written LAST.

Which cluster: ``data.cluster``, else the ``cluster`` extension attribute, else
``cluster_backup.cluster``; InvalidInput when none names one. The function reads only the
cluster its credentials reach, so when the configuration names a cluster and the request names
another one, the request is for another cluster's cluster-backup (they share the broker): it
is ignored (202), never backed up under the wrong name.

Replies:
- Success: none (202). backup-complete announces ``backup.completed`` when the manifest lands.
- Failure (the API server unreachable or refusing, storage failing): ``backup.failed`` with a
  ``code`` (``kube_unreachable``, ``kube_unauthorized``: no credential or a rejected one,
  ``kube_forbidden``: RBAC refuses a verb on a resource, named in the message,
  ``kube_config_invalid``, ``kube_list_expired``, ``kube_error``, ``storage_error``,
  ``invalid_object``). No manifest is written and the partial archive is deleted, so the backup
  is never announced as complete. The handler raises (``BackupNotWritten``); the runtime
  classifies, logs and reports it once (``runtime.failures``), as it does any other failure.
- Why a reply and not a 503, even for a retryable failure: a whole-cluster read is the most
  expensive call in the flow, and the broker's redeliveries (3, seconds apart) rarely outlast
  the API-server or MinIO outage that caused them; the adapter already restarts the one
  transient failure that is routine (an expired continue token, 410). A 503 that exhausts its
  retries ends in the dead-letter sink with no event the alert-router sees; ``backup.failed``
  reaches it at once. The next PingSource tick, or a ``backup.requested``, tries again; a
  missed day also raises ``backup.stale`` (health-aggregator).
- After a successful backup, retention (``backups.keep``, ``clusters[].keep``) deletes the
  cluster's native backups it no longer keeps (``backup2gitops.retention``: whole backups,
  marker first, never the newest complete one, never a Velero key). A storage failure there
  is logged at error level and changes nothing else: the backup is written, and the next
  successful backup applies retention again.
- Anything else that escapes (a bug, an error type nobody mapped) is announced the same way by
  the runtime (``runtime.failures``): ``backup.failed`` with code ``internal``, not retried.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from pydantic import ValidationError

from backup2gitops.adapters import kube
from backup2gitops.adapters.kube import KubeError
from backup2gitops.adapters.storage import StorageError
from backup2gitops.core.bucket_layout import (
    LayoutError,
    native_manifest_key,
    new_backup_id,
    validate_cluster,
)
from backup2gitops.core.errors import Backup2GitopsError, Conflict, InvalidInput
from backup2gitops.core.events import (
    BACKUP_FAILED,
    BACKUP_REQUESTED,
    PING,
    BackupFailed,
    BackupRequested,
    Event,
    Received,
    Tick,
    function_source,
    parse_data,
    stable_event_id,
)
from backup2gitops.runtime import failures
from backup2gitops.runtime.aws_lambda import lambda_adapter
from backup2gitops.runtime.context import FunctionContext
from backup2gitops.runtime.envelopes import Envelope
from backup2gitops.runtime.http import FunctionSpec, Handler, http_target
from backup2gitops.runtime.logs import logger_for

if TYPE_CHECKING:  # the snapshot, its archive writer and retention: with the first request
    from backup2gitops.adapters.kube import ApiClient
    from backup2gitops.config import ClusterBackupConfig
    from backup2gitops.core.archive import ArchiveError

NAME = "cluster-backup"
SOURCE = function_source(NAME)

ClientFactory = Callable[["ClusterBackupConfig"], "ApiClient"]
"""Builds the kube client for one invocation; tests pass one pointed at a replay server."""


def client_from_config(config: ClusterBackupConfig) -> ApiClient:
    kubeconfig = str(config.kubeconfig) if config.kubeconfig is not None else None
    return kube.api_client_from(kubeconfig=kubeconfig, context=config.context)


Request = Received[BackupRequested | Tick]
"""The input: ``backup.requested``, or a tick (PingSource, EventBridge Scheduler)."""


def decode(event: Event) -> Request:
    """The request ``event`` is, its data decoded once (``runtime.envelopes``)."""
    if event.type == BACKUP_REQUESTED:
        return Received(event, parse_data(event, BackupRequested))
    if event.type == PING:
        # A PingSource's data is whatever its spec says: only a "cluster" string is read.
        if not isinstance(event.data, dict):
            return Received(event, Tick())
        try:
            return Received(event, Tick.model_validate(event.data))
        except ValidationError as exc:
            raise InvalidInput("invalid_data", f"{PING}: data.cluster must be a string") from exc
    raise InvalidInput(
        "unexpected_type", f"{NAME} handles {BACKUP_REQUESTED} and {PING}, not {event.type}"
    )


INPUT: Envelope[Request] = Envelope(decode=decode)


def named_cluster(request: Request) -> str | None:
    """The cluster the request names: its data, else its ``cluster`` extension attribute."""
    return request.data.cluster or request.event.cluster


def requested_cluster(event: Event) -> str | None:
    """The cluster ``event`` names (``named_cluster`` of its decoded request)."""
    return named_cluster(decode(event))


class BackupNotWritten(Backup2GitopsError):
    """The backup could not be written (the API server, the storage, an object name): raised,
    and reported by the runtime as ``backup.failed`` naming the backup. Permanent for the
    runtime: answered with that event, never with a status the broker would retry (the module
    docstring says why)."""

    permanent = True

    def __init__(self, cause: KubeError | StorageError | ArchiveError, *, backup_id: str) -> None:
        if isinstance(cause, KubeError):
            code = cause.code
        elif isinstance(cause, StorageError):
            code = "storage_error"
        else:  # an object whose name cannot be a member name
            code = "invalid_object"
        super().__init__(str(cause), code=code)
        self.backup_id = backup_id


def failed_event(
    event: Event, *, cluster: str | None, backup_id: str | None, code: str, message: str
) -> Event:
    """``backup.failed`` for this request (one id per request: a redelivery repeats it)."""
    data = BackupFailed(cluster=cluster, backup_id=backup_id, code=code, message=message)
    return event.reply(
        type=BACKUP_FAILED,
        source=SOURCE,
        data=data,
        subject=f"{cluster}/{backup_id}" if cluster and backup_id else None,
        cluster=cluster,
        id=stable_event_id(NAME, event.id),
    )


def failure_event(
    request: Request, failure: failures.Failure, ctx: FunctionContext
) -> Event | None:
    """What the runtime announces for a failure that escaped the handler (``runtime.failures``):
    ``backup.failed`` naming the requested (or configured) cluster."""
    cluster = named_cluster(request) or ctx.config.cluster_backup.cluster
    written = failure.error if isinstance(failure.error, BackupNotWritten) else None
    return failed_event(
        request.event,
        cluster=cluster,
        backup_id=written.backup_id if written is not None else None,
        code=failure.code,
        message=failure.message,
    )


def make_handler(*, client_factory: ClientFactory = client_from_config) -> Handler[Request]:
    """The handler, with the way it builds its kube client."""

    def handle(request: Request, ctx: FunctionContext) -> Event | None:
        from backup2gitops.cluster_snapshot import write_cluster_backup
        from backup2gitops.core.archive import ArchiveError
        from backup2gitops.native_backup_writer import BackupInProgress, claimed

        event = request.event
        settings = ctx.config.cluster_backup
        named = named_cluster(request)
        if named and settings.cluster and named != settings.cluster:
            logger_for(NAME).info(
                "not this function's cluster; ignored",
                extra={"requested": named, "configured": settings.cluster},
            )
            return None
        cluster = named or settings.cluster
        if not cluster:
            raise InvalidInput(
                "no_cluster", "name the cluster in data.cluster or in cluster_backup.cluster"
            )
        try:
            validate_cluster(cluster)
        except LayoutError as exc:
            raise InvalidInput("invalid_cluster", str(exc)) from exc
        started_at = ctx.clock()
        # A PingSource tick keeps its time across redeliveries: the same tick, the same backup.
        # (Only a ping's time means that: the CloudEvents SDK stamps "now" on events without one.)
        tick = event.time if event.type == PING and event.time is not None else None
        backup_id = new_backup_id(tick or started_at)
        manifest_key = native_manifest_key(prefix="", cluster=cluster, backup_id=backup_id)
        if ctx.store.stat(manifest_key) is not None:
            logger_for(NAME).info("already backed up", extra={"backup_id": backup_id})
            return None

        try:
            with (
                claimed(
                    ctx.store, cluster=cluster, backup_id=backup_id, owner=event.id, now=started_at
                ),
                client_factory(settings) as api,
            ):
                backup = write_cluster_backup(
                    api,
                    ctx.store,
                    config=settings,
                    cluster=cluster,
                    backup_id=backup_id,
                    started_at=started_at,
                    clock=ctx.clock,
                )
        except BackupInProgress as exc:  # a duplicate delivery while the first still runs
            raise Conflict("backup_in_progress", str(exc)) from exc
        except (KubeError, StorageError, ArchiveError) as exc:
            raise BackupNotWritten(exc, backup_id=backup_id) from exc
        manifest = backup.written.manifest
        logger_for(NAME).info(
            "backup written",
            extra={
                "backup_id": backup_id,
                "manifest_key": backup.written.manifest_key,
                "objects": sum(manifest.resource_counts.values()),
                "excluded": sum(backup.excluded.values()),
                "archive_bytes": manifest.archive.size,
                "warnings": manifest.warnings,
            },
        )
        apply_retention(ctx, cluster=cluster)
        return None  # backup-complete announces it when the manifest lands

    return handle


def apply_retention(ctx: FunctionContext, *, cluster: str) -> None:
    """Retention after a successful backup; a storage failure is logged, never raised."""
    from backup2gitops import retention

    keep = ctx.config.keep_for(cluster)
    if not keep.enabled:
        return
    log = logger_for(NAME)
    try:
        report = retention.apply_retention(
            ctx.store,
            cluster=cluster,
            keep=keep,
            now=ctx.clock(),
            velero_prefixes=ctx.config.velero_prefixes(),
        )
    except StorageError as exc:
        log.error("retention not applied", extra={"cluster": cluster, "error": str(exc)})
        return
    for doomed in report.deleted:
        log.info(
            "backup deleted by retention",
            extra={"cluster": cluster, "backup_id": doomed.backup_id, "reason": doomed.reason},
        )
    if report.unreadable:
        log.warning(
            "backups with an unreadable manifest kept",
            extra={"cluster": cluster, "backup_ids": report.unreadable},
        )


def spec_with(*, client_factory: ClientFactory = client_from_config) -> FunctionSpec[Request]:
    """The function, with the way it builds its kube client (tests: a replay server's)."""
    return FunctionSpec(
        name=NAME,
        handle=make_handler(client_factory=client_factory),
        envelope=INPUT,
        failure_event=failure_event,
    )


SPEC = spec_with()
handle = SPEC.handle_event
"""An event in, decoded like the runtime does (the CLI, in-process tests)."""
cluster_backup = http_target(SPEC)
lambda_handler = lambda_adapter(SPEC)
