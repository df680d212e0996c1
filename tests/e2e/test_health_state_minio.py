"""Two health runs at once against a real MinIO holding the health state: one announces.

MinIO (``$(go env GOPATH)/bin/minio``) is started by the test on a free 127.0.0.1 port;
without it the test is skipped. The conditional puts are MinIO's own ``If-Match`` /
``If-None-Match`` on PutObject.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from backup2gitops.adapters.s3_store import S3Store
from backup2gitops.adapters.storage import PreconditionFailed
from backup2gitops.config import parse_config
from backup2gitops.core import events
from backup2gitops.core.events import Event
from backup2gitops.runtime.context import FunctionContext
from health_aggregator import handler
from tests.e2e.servers import Minio
from tests.e2e.stores import minio_with_bucket
from tests.fixtures.racing_state import RacingHealthWrites, two_runs_at_once
from tests.git_repos import bare_repository

CHECKED_AT = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
"""The clock of every run here: the report says exactly when it was checked."""

pytestmark = pytest.mark.e2e


@pytest.fixture
def minio(tmp_path: Path) -> Iterator[Minio]:
    with minio_with_bucket(tmp_path, "backups") as server:
        yield server


class RacingS3Store(RacingHealthWrites, S3Store):
    """Both runs have read the state before either writes it."""

    barrier = threading.Barrier(2, timeout=120)


def test_two_concurrent_runs_announce_one_change(minio: Minio, tmp_path: Path) -> None:
    client = minio.s3_client()
    plain = S3Store(bucket="backups", client=client, display_url="s3://backups")
    plain.put_bytes("backups/prod/b1/manifest.json", b"{}")
    plain.put_bytes("state/probe.json", b"1", if_none_match=True)
    with pytest.raises(PreconditionFailed):  # the server really enforces conditions
        plain.put_bytes("state/probe.json", b"2", if_none_match=True)

    git_dir = bare_repository(tmp_path / "remote.git")
    config = parse_config(
        f"""
storage: {{url: "s3://backups", endpoint_url: "{minio.url}", health_url: "{minio.url}"}}
git: {{url: "{git_dir}", cache_dir: "{tmp_path / "cache"}"}}
clusters: [{{name: prod}}]
health: {{check_timeout_s: 10}}
"""
    )

    def run(event_id: str) -> Event | None:
        store = RacingS3Store(bucket="backups", client=client, display_url="s3://backups")
        ctx = FunctionContext(
            config, store=store, environ={}, publish=lambda e: None, clock=lambda: CHECKED_AT
        )
        ping = Event(
            id=event_id,
            source="/apis/v1/namespaces/ns/pingsources/p",
            type=events.PING,
            time=CHECKED_AT,
        )
        return handler.handle(ping, ctx)

    replies = two_runs_at_once(run)
    kinds = sorted(r.type for r in replies if r is not None)
    assert kinds == [events.HEALTH_CHANGED, events.HEALTH_REPORTED]
    changed = next(r for r in replies if r is not None and r.type == events.HEALTH_CHANGED)
    assert changed.data["report"]["components"]["storage/cluster"]["status"] == "healthy"
    assert plain.stat("state/health.json") is not None
    assert datetime.fromisoformat(changed.data["report"]["checked_at"]) == CHECKED_AT
