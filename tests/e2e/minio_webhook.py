"""MinIO's webhook notifications, as the e2e tests wire them: a named webhook target given in the
server's environment (``MINIO_NOTIFY_WEBHOOK_*_<NAME>``), and a bucket whose new objects are
announced to it -- as the ``mc event add`` of knative/components/minio does in production."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def webhook_target(
    name: str, *, endpoint: str, queue_dir: Path, token: str | None = None
) -> dict[str, str]:
    """The environment that gives a MinIO server the webhook target ``name`` posting to
    ``endpoint`` (with ``token`` as its bearer token, when given), its queue in ``queue_dir``."""
    env = {
        f"MINIO_NOTIFY_WEBHOOK_ENABLE_{name}": "on",
        f"MINIO_NOTIFY_WEBHOOK_ENDPOINT_{name}": endpoint,
    }
    if token is not None:
        env[f"MINIO_NOTIFY_WEBHOOK_AUTH_TOKEN_{name}"] = token
    env[f"MINIO_NOTIFY_WEBHOOK_QUEUE_DIR_{name}"] = str(queue_dir)
    return env


def bucket_notifying(
    s3: S3Client,
    bucket: str,
    *,
    targets: Iterable[str] = ("B2G",),
    suffix: str | None = "manifest.json",
) -> None:
    """Create ``bucket`` and announce each object created in it (whose key ends in ``suffix``,
    when given) to each webhook target in ``targets``."""
    s3.create_bucket(Bucket=bucket)
    queues: list[Any] = []
    for target in targets:
        queue: dict[str, Any] = {
            "QueueArn": f"arn:minio:sqs::{target}:webhook",
            "Events": ["s3:ObjectCreated:*"],
        }
        if suffix is not None:
            queue["Filter"] = {"Key": {"FilterRules": [{"Name": "suffix", "Value": suffix}]}}
        queues.append(queue)
    s3.put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration={"QueueConfigurations": queues}
    )
