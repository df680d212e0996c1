"""The watchdog on the real thing: completion markers in a real MinIO (their last-modified times
are MinIO's clock), the branch on a real ``git daemon``, and the functions' own handlers in
process -- backup-complete, gitops-generator, alert-router, health-aggregator -- with an injected
clock set from MinIO's own timestamps, so nothing depends on the wall clock or machine speed.

Three clusters, one per stall of issue 22 item 1:
- ``frozen``: its tip names a backup stamped 2099 (committed before backup-complete refused such
  times); a real backup lands, the real generator skips it as older than the tip;
- ``lost``: a backup lands and its ``backup.completed`` is never delivered (the generator never
  runs, or a remote that never answers holds it: either way no commit appears);
- ``skewed``: a backup claiming to have finished a year after its manifest landed: backup-complete
  refuses it (``clock_skew``), alert-router delivers the alert, so it is *not* stuck.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from alert_router import handler as alert_router
from backup2gitops.adapters.storage import ObjectStore, open_store
from backup2gitops.config import Config, parse_config
from backup2gitops.core import alert_rules, events
from backup2gitops.core.events import Event
from backup2gitops.native_backup_writer import write_native_backup
from backup2gitops.runtime import failures
from backup2gitops.runtime.context import FunctionContext
from backup2gitops.sample import iter_sample_items
from backup_complete import handler as backup_complete
from gitops_generator import handler as gitops_generator
from health_aggregator import handler as health_aggregator
from tests.e2e.git_daemon import git_daemon
from tests.e2e.stores import minio_with_bucket
from tests.fixtures.notifications import minio_body
from tests.recording import Recorder

pytestmark = pytest.mark.e2e

BUCKET = "backups"
LAG = timedelta(hours=1)


@pytest.fixture
def flow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Config, ObjectStore]]:
    with minio_with_bucket(tmp_path, BUCKET) as minio, git_daemon(tmp_path / "git") as base:
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", minio.user)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", minio.password)
        config = parse_config(
            f"""
storage: {{url: "s3://{BUCKET}", endpoint_url: "{minio.url}", addressing_style: path}}
git: {{url: "{base}gitops.git", cache_dir: "{tmp_path / "cache"}"}}
clusters: [{{name: frozen}}, {{name: lost}}, {{name: skewed}}]
health: {{max_gitops_lag: PT1H, check_timeout_s: 30}}
backup_complete: {{allow_unauthenticated: true}}
""",
            {},
        )
        yield config, open_store(config.storage)


def ctx_at(config: Config, store: ObjectStore, now: datetime, **kw: object) -> FunctionContext:
    return FunctionContext(config, store=store, environ={}, clock=lambda: now, **kw)  # type: ignore[arg-type]


def land(store: ObjectStore, cluster: str, backup_id: str, finished_at: datetime) -> str:
    written = write_native_backup(
        store,
        iter_sample_items(),
        cluster=cluster,
        backup_id=backup_id,
        started_at=finished_at - timedelta(seconds=30),
        finished_at=finished_at,
    )
    return written.manifest_key


def notified(key: str) -> Event:
    return Event(
        id=f"n-{key}",
        source="minio:s3",
        type="com.amazonaws.s3.ObjectCreated",
        data=minio_body(bucket=BUCKET, key=key),
    )


def commit_2099(config: Config, tmp: Path) -> None:
    """What the branch held before the guard: a commit of a backup stamped 2099."""
    env = {**os.environ, "GIT_AUTHOR_NAME": "g", "GIT_AUTHOR_EMAIL": "g@g",
           "GIT_COMMITTER_NAME": "g", "GIT_COMMITTER_EMAIL": "g@g"}  # fmt: skip
    work = tmp / "seed"
    subprocess.run(["git", "init", "-q", "-b", "main", str(work)], check=True)
    (work / "frozen").mkdir()
    (work / "frozen" / "kustomization.yaml").write_text("resources: []\n")
    subprocess.run(["git", "-C", str(work), "add", "-A"], check=True)
    message = (
        "frozen: backup b-2099\n\nBackup-Id: b-2099\nCluster: frozen\n"
        "Backup-Created-At: 2099-01-01T00:00:00+00:00\n"
    )
    subprocess.run(["git", "-C", str(work), "commit", "-q", "-m", message], check=True, env=env)
    subprocess.run(["git", "-C", str(work), "push", "-q", config.git.url, "main"], check=True)


def test_each_stall_fires_the_watchdog_and_a_delivered_refusal_does_not(
    flow: tuple[Config, ObjectStore], tmp_path: Path, recorder: Recorder
) -> None:
    config, store = flow
    commit_2099(config, tmp_path)
    start = datetime.now(UTC)  # only to name times near MinIO's; every verdict uses its stamps

    frozen = land(store, "frozen", "b-0201", start - timedelta(minutes=1))
    info = store.stat(frozen)
    assert info is not None
    landed = info.last_modified  # MinIO's clock from here on
    completed = backup_complete.handle(notified(frozen), ctx_at(config, store, landed))
    assert completed is not None and completed.type == events.BACKUP_COMPLETED
    try:
        reply = gitops_generator.handle(completed, ctx_at(config, store, landed))
    except Exception as exc:
        failure = failures.classify(exc)
        received = gitops_generator.INPUT.read(completed)
        reply = gitops_generator.failure_event(received, failure, ctx_at(config, store, landed))
    assert reply is not None
    reply_type = reply.type
    if reply.type == events.GITOPS_GENERATED:  # a no-op: older than the 2099 tip
        assert reply.data["noop"] is True and reply.data["reason"], reply.data
        health_aggregator.handle(reply, ctx_at(config, store, landed))

    lost = land(store, "lost", "b-0202", landed)
    lost_completed = backup_complete.handle(notified(lost), ctx_at(config, store, landed))
    assert lost_completed is not None and lost_completed.type == events.BACKUP_COMPLETED
    # ... and that event never reaches gitops-generator

    skewed = land(store, "skewed", "b-0203", landed + timedelta(days=365))
    refusal = backup_complete.handle(notified(skewed), ctx_at(config, store, landed))
    assert refusal is not None and refusal.type == events.BACKUP_FAILED
    assert refusal.data["code"] == "clock_skew"
    router_config = config.model_copy(deep=True)
    router_config.alerts = parse_config(
        f"""
alerts:
  receivers: [{{name: hook, type: webhook, url: "{recorder.url}/hook"}}]
  routes: [{{receivers: [hook]}}]
""",
        {},
    ).alerts
    alert_router.handle(refusal, ctx_at(router_config, store, landed))
    assert len(recorder.to("/hook")) == 1

    markers = [i.last_modified for i in store.list("backups/") if i.key.endswith(".json")]
    oldest, newest = min(markers), max(markers)
    published: list[Event] = []
    early = ctx_at(config, store, oldest + LAG - timedelta(seconds=1), publish=published.append)
    report = health_aggregator.handle(Event(id="p0", source="/t", type=events.PING), early)
    assert report is not None
    assert not [e for e in published if e.data.get("cause")]  # within the lag: nothing yet

    late = ctx_at(config, store, newest + LAG + timedelta(seconds=1), publish=published.append)
    changed = health_aggregator.handle(Event(id="p1", source="/t", type=events.PING), late)
    assert changed is not None and changed.type == events.HEALTH_CHANGED
    components = changed.data["report"]["components"]
    assert changed.data["report"]["status"] == "unhealthy"
    assert components["watchdog/frozen"]["status"] == "unhealthy"
    assert components["watchdog/lost"]["status"] == "unhealthy"
    assert components["watchdog/skewed"]["status"] == "healthy"
    assert "refused with a delivered alert" in components["watchdog/skewed"]["message"]
    stuck = {e.cluster: e.data for e in published if e.data.get("cause")}
    assert set(stuck) == {"frozen", "lost"}
    assert stuck["frozen"]["backup_id"] == "b-0201"
    assert stuck["frozen"]["last_committed_backup_id"] == "b-2099"
    skipped = reply_type == events.GITOPS_GENERATED
    assert stuck["frozen"]["cause"] == ("skipped" if skipped else "not_generated")
    assert stuck["lost"] == {**stuck["lost"], "backup_id": "b-0202", "cause": "not_generated"}
    fired = [alert_rules.effects_of(e).firing[0] for e in published if e.data.get("cause")]
    assert {a.alertname for a in fired} == {"BackupStuck"}
