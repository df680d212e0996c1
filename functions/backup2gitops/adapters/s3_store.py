"""The ``s3://bucket[/prefix]`` store: MinIO and AWS S3 through boto3 (``adapters.storage``).

S3's answers are mapped to the storage errors every backend raises (``s3_errors``): a missing
key is ``NotFound``, a lost conditional put ``PreconditionFailed``, refused credentials
``StorageForbidden`` (not retried), a missing bucket a ``StorageError`` naming it, 5xx / 408 /
429 / throttling a retryable ``StorageError``; a body that fails mid-read says it is the
store's (``GuardedRead``), never damage in the bytes.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING, Any, BinaryIO, cast

from backup2gitops.adapters.storage import (
    NotFound,
    ObjectInfo,
    PreconditionFailed,
    StorageError,
    StorageForbidden,
    safe_key,
)

if TYPE_CHECKING:
    from backup2gitops.config import StorageConfig

FORBIDDEN_CODES = frozenset(
    {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "403", "Forbidden"}
)


def s3_store(config: StorageConfig, *, bucket: str, prefix: str) -> S3Store:
    """The store of ``config`` (an ``s3://`` URL naming ``bucket`` and ``prefix``); the
    credentials are read here, never logged."""
    import boto3
    from botocore.config import Config as BotoConfig

    client = boto3.client(
        "s3",
        endpoint_url=config.endpoint_url,
        region_name=config.region or "us-east-1",
        verify=config.verify_tls,
        aws_access_key_id=config.access_key.reveal(),
        aws_secret_access_key=config.secret_key.reveal(),
        config=BotoConfig(
            s3={"addressing_style": config.addressing_style},
            retries={"max_attempts": 3, "mode": "standard"},
            connect_timeout=5,
            read_timeout=60,
        ),
    )
    return S3Store(bucket=bucket, prefix=prefix, client=client, display_url=config.url)


class S3Store:
    """A bucket (and optional key prefix) in MinIO or AWS S3, through boto3."""

    def __init__(self, *, bucket: str, prefix: str = "", client: Any, display_url: str) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.client = client
        self.url = display_url

    def _key(self, key: str) -> str:
        return self.prefix + safe_key(key)

    def stat(self, key: str) -> ObjectInfo | None:
        try:
            with s3_errors(key, bucket=self.bucket):
                head = self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except NotFound:
            return None
        return ObjectInfo(
            key=key,
            size=int(head["ContentLength"]),
            etag=str(head["ETag"]).strip('"'),
            last_modified=head["LastModified"],
        )

    def open_read(self, key: str) -> BinaryIO:
        with s3_errors(key, bucket=self.bucket):
            response = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
        return cast("BinaryIO", GuardedRead(response["Body"], key=key))

    def read_bytes(self, key: str) -> bytes:
        stream = self.open_read(key)
        try:
            return stream.read()
        finally:
            stream.close()

    def put_bytes(
        self, key: str, data: bytes, *, if_match: str | None = None, if_none_match: bool = False
    ) -> ObjectInfo:
        extra: dict[str, str] = {}
        if if_match is not None:
            extra["IfMatch"] = f'"{if_match}"'
        if if_none_match:
            extra["IfNoneMatch"] = "*"
        with s3_errors(key, bucket=self.bucket):
            self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data, **extra)
        info = self.stat(key)
        if info is None:
            raise StorageError(f"{key} vanished right after it was written")
        return info

    @contextlib.contextmanager
    def writer(self, key: str) -> Iterator[IO[bytes]]:
        # Spool to disk, then upload (multipart for large objects): memory stays bounded, and
        # the object appears only when the upload completes.
        with tempfile.TemporaryFile() as spool:
            yield spool
            spool.seek(0)
            with s3_errors(key, bucket=self.bucket):
                self.client.upload_fileobj(spool, self.bucket, self._key(key))

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        paginator = self.client.get_paginator("list_objects_v2")
        with s3_errors(prefix, bucket=self.bucket):
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + prefix):
                for item in page.get("Contents", []):
                    yield ObjectInfo(
                        key=item["Key"][len(self.prefix) :],
                        size=int(item["Size"]),
                        etag=str(item["ETag"]).strip('"'),
                        last_modified=item["LastModified"],
                    )

    def delete(self, key: str) -> None:
        with s3_errors(key, bucket=self.bucket):
            self.client.delete_object(Bucket=self.bucket, Key=self._key(key))


class GuardedRead:
    """A stream from the store whose failures say they are the store's: any error while
    reading (connection reset, a body shorter than its Content-Length, a timeout) is a
    retryable ``StorageError``, never mistaken by a reader for damage in the bytes."""

    def __init__(self, stream: Any, *, key: str) -> None:
        self._stream = stream
        self._key = key

    def read(self, size: int = -1, /) -> bytes:
        try:
            data: bytes = (
                self._stream.read(size) if size is not None and size >= 0 else (self._stream.read())
            )
        except Exception as exc:
            raise StorageError(
                f"reading {self._key} failed mid-stream: {type(exc).__name__}"
            ) from exc
        return data

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._stream.close()

    def __enter__(self) -> GuardedRead:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextlib.contextmanager
def s3_errors(key: str, *, bucket: str = "") -> Iterator[None]:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
        if code in ("NoSuchKey", "404", "NotFound"):
            raise NotFound(key) from exc
        if code == "PreconditionFailed" or status == 412:
            raise PreconditionFailed(key) from exc
        if code in FORBIDDEN_CODES or status == 403:
            raise StorageForbidden(f"S3 {code or status}", key=key) from exc
        if code == "NoSuchBucket":  # the key is not the problem: name what is
            raise StorageError(
                f"S3 NoSuchBucket: bucket {bucket or '?'} does not exist (storage.url names it; "
                f"create it, e.g. mc mb ALIAS/{bucket or 'BUCKET'})",
                retryable=False,
            ) from exc
        retryable = status >= 500 or status in (408, 429) or code in ("SlowDown", "RequestTimeout")
        raise StorageError(f"S3 {code or status} on {key}", retryable=retryable) from exc
    except BotoCoreError as exc:
        raise StorageError(f"S3 unreachable for {key}: {type(exc).__name__}") from exc
