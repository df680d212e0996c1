"""Powertools idempotency records kept in our object store (MinIO, S3 or a directory).

One object per idempotency key under ``state/idempotency/``. Creating a record is a
conditional put (``If-None-Match: *``), so of two concurrent deliveries exactly one wins;
the other gets ``IdempotencyItemAlreadyExistsError`` and Powertools answers
``IdempotencyAlreadyInProgressError`` (the caller turns that into 409, which Knative retries).
An expired record, or an in-progress one whose holder ran out of time, is replaced with a
put conditional on its etag, as DynamoDB's layer does with a condition expression.

On AWS, ``persistence_layer()`` returns Powertools' own ``DynamoDBPersistenceLayer``; the
table's TTL attribute (``expiration``, which that layer writes) lets DynamoDB delete expired
records.

Expiry in the bucket: a record is of no use once it expired (Powertools treats an expired record
as absent), so ``expire_records`` deletes every record nothing wrote to for longer than
``alerts.idempotency.expires_after``, judged by the listing's ``last_modified`` (no reads), at
most once per ``SWEEP_EVERY`` (the time of the last sweep is kept in ``<prefix>.swept``). The
clock is injected. On S3 and MinIO a lifecycle rule on the prefix does the same without any
function (template.yaml ``BackupBucket``; ``mc ilm rule add --expire-days 2 --prefix
state/idempotency/ ALIAS/BUCKET``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.idempotency import (
    BasePersistenceLayer,
    DynamoDBPersistenceLayer,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyItemAlreadyExistsError,
    IdempotencyItemNotFoundError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import (
    STATUS_CONSTANTS,
    DataRecord,
)

from backup2gitops.adapters.storage import NotFound, ObjectStore, PreconditionFailed
from backup2gitops.core.events import now as utc_now

if TYPE_CHECKING:
    from backup2gitops.config import IdempotencyConfig

Clock = Callable[[], datetime]
SWEEP_EVERY = timedelta(hours=1)
SWEEP_MARK = ".swept"


class ObjectStorePersistenceLayer(BasePersistenceLayer):
    def __init__(
        self,
        store: ObjectStore,
        *,
        prefix: str = "state/idempotency/",
        in_progress_timeout_s: float = 300.0,
        clock: Clock = utc_now,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.store = store
        self.prefix = prefix if prefix.endswith("/") else prefix + "/"
        self.in_progress_timeout_s = in_progress_timeout_s
        self.clock = clock

    def key_for(self, idempotency_key: str) -> str:
        """``<prefix><function>/<hash>.json``: readable, and always a safe object key."""
        scope, _, digest = idempotency_key.rpartition("#")
        safe_scope = "".join(c if c.isalnum() or c in "-_." else "_" for c in scope) or "default"
        if not digest.isalnum():
            digest = hashlib.sha256(idempotency_key.encode()).hexdigest()
        return f"{self.prefix}{safe_scope}/{digest}.json"

    @staticmethod
    def _encode(record: DataRecord) -> bytes:
        return json.dumps(
            {
                "idempotency_key": record.idempotency_key,
                "status": record._status,
                "expiry_timestamp": record.expiry_timestamp,
                "in_progress_expiry_timestamp": record.in_progress_expiry_timestamp,
                "response_data": record.response_data,
                "payload_hash": record.payload_hash,
            },
            sort_keys=True,
        ).encode()

    @staticmethod
    def _decode(raw: bytes) -> DataRecord:
        item: dict[str, Any] = json.loads(raw)
        return DataRecord(
            idempotency_key=item["idempotency_key"],
            status=item["status"],
            expiry_timestamp=item.get("expiry_timestamp"),
            in_progress_expiry_timestamp=item.get("in_progress_expiry_timestamp"),
            response_data=item.get("response_data") or "",
            payload_hash=item.get("payload_hash") or "",
        )

    def _read(self, idempotency_key: str) -> tuple[DataRecord, str] | None:
        key = self.key_for(idempotency_key)
        info = self.store.stat(key)
        if info is None:
            return None
        try:
            return self._decode(self.store.read_bytes(key)), info.etag
        except NotFound:
            return None

    def _get_record(self, idempotency_key: str) -> DataRecord:
        found = self._read(idempotency_key)
        if found is None:
            raise IdempotencyItemNotFoundError
        return found[0]

    def _put_record(self, data_record: DataRecord) -> None:
        if data_record.in_progress_expiry_timestamp is None:
            # Outside Lambda there is no remaining-time; bound the in-progress lock ourselves.
            deadline = self.clock().timestamp() + self.in_progress_timeout_s
            data_record.in_progress_expiry_timestamp = int(deadline * 1000)
        key = self.key_for(data_record.idempotency_key)
        body = self._encode(data_record)
        try:
            self.store.put_bytes(key, body, if_none_match=True)
            return
        except PreconditionFailed:
            pass
        found = self._read(data_record.idempotency_key)
        if found is None:  # deleted meanwhile: try once more to create it
            try:
                self.store.put_bytes(key, body, if_none_match=True)
                return
            except PreconditionFailed as exc:
                raise IdempotencyItemAlreadyExistsError from exc
        existing, etag = found
        if not self._replaceable(existing):
            raise IdempotencyItemAlreadyExistsError(old_data_record=existing)
        try:
            self.store.put_bytes(key, body, if_match=etag)
        except PreconditionFailed as exc:
            raise IdempotencyItemAlreadyExistsError from exc

    def _replaceable(self, existing: DataRecord) -> bool:
        if existing.status == STATUS_CONSTANTS["EXPIRED"]:
            return True
        deadline = existing.in_progress_expiry_timestamp
        return (
            existing.status == STATUS_CONSTANTS["INPROGRESS"]
            and deadline is not None
            and deadline < int(self.clock().timestamp() * 1000)
        )

    def _update_record(self, data_record: DataRecord) -> None:
        self.store.put_bytes(self.key_for(data_record.idempotency_key), self._encode(data_record))

    def _delete_record(self, data_record: DataRecord) -> None:
        self.store.delete(self.key_for(data_record.idempotency_key))


def persistence_layer(
    config: IdempotencyConfig, *, store: ObjectStore, clock: Clock = utc_now
) -> BasePersistenceLayer:
    """The configured backend: the object store, or DynamoDB on AWS."""
    if config.backend == "dynamodb":
        if not config.table:
            raise ValueError("alerts.idempotency.table is required for backend: dynamodb")
        return DynamoDBPersistenceLayer(table_name=config.table)
    return ObjectStorePersistenceLayer(store, prefix=config.prefix, clock=clock)


def expire_records(
    store: ObjectStore,
    *,
    prefix: str,
    older_than: timedelta,
    now: datetime,
    every: timedelta = SWEEP_EVERY,
) -> int | None:
    """Delete the records under ``prefix`` nothing wrote to for longer than ``older_than``.

    At most once per ``every``: returns None when the last sweep (``<prefix>.swept``) is more
    recent, else the number of records deleted. Raises ``StorageError`` like the store.
    """
    base = prefix if prefix.endswith("/") else prefix + "/"
    mark = base + SWEEP_MARK
    try:
        last: datetime | None = datetime.fromisoformat(
            json.loads(store.read_bytes(mark))["swept_at"]
        )
    except NotFound:
        last = None
    except (ValueError, KeyError, TypeError):  # a damaged mark: sweep, and write a good one
        last = None
    if last is not None and timedelta(0) <= now - last < every:
        return None
    store.put_bytes(mark, json.dumps({"swept_at": now.isoformat()}).encode())
    deleted = 0
    for info in list(store.list(base)):
        if info.key != mark and now - info.last_modified > older_than:
            store.delete(info.key)
            deleted += 1
    return deleted
