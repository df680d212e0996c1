"""The watchdog: a backup that landed and is neither committed nor refused with an alert within
``health.max_gitops_lag`` is stuck (issue 22, item 1 and "What to build" 1).

Every fact here is durable and real: completion markers in a directory bucket (their mtime is
the storage's clock), commits with the generator's trailers on a real bare git remote, and
alert-router's own refusal records. The clock is injected; each stall cause of issue 22 is one
test, and each fires the alert (``backup.stale`` with a ``cause``, alert-router's
``BackupStuck``), makes ``/status`` unhealthy (503) and sets ``backup2gitops_backup_stuck``.
"""

from __future__ import annotations

import subprocess
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from alert_router import handler as alert_router
from backup2gitops.adapters.storage import FileStore, MemoryStore
from backup2gitops.config import parse_config
from backup2gitops.core import alert_rules, alerts, events
from backup2gitops.core.events import Event
from backup2gitops.runtime.context import FunctionContext
from health_aggregator import handler
from tests.functional.http_client import client
from tests.functional.test_health_aggregator import (
    NOW,
    add_commit,
    git,
    make_remote,
    ping,
    put_backup,
    scrape_samples,
)
from tests.recording import Recorder

LAG = "health: {max_gitops_lag: PT1H, max_backup_age: PT26H, check_timeout_s: 5}"


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def tmp(tmp_path: Path) -> Path:
    make_remote(tmp_path, [("b0", "prod")])
    return tmp_path


@pytest.fixture
def clock() -> Clock:
    return Clock()


def context(tmp: Path, clock: Clock, published: list[Event], extra: str = "") -> FunctionContext:
    config = parse_config(
        f"""
storage: {{url: "file://{tmp / "bucket"}"}}
git: {{url: "{tmp / "remote.git"}", cache_dir: "{tmp / "cache"}"}}
clusters: [{{name: prod}}]
{LAG}
{extra}
""",
        {},
    )
    return FunctionContext(
        config, store=FileStore(tmp / "bucket"), publish=published.append, environ={}, clock=clock
    )


def work_clone(tmp: Path) -> Path:
    work = tmp / "clone"
    if not work.exists():
        git("clone", "-q", str(tmp / "remote.git"), str(work), cwd=tmp)
    return work


def stuck_events(published: list[Event]) -> list[Event]:
    return [e for e in published if e.type == events.BACKUP_STALE and e.data.get("cause")]


def generated(backup_id: str, *, noop: bool, reason: str | None = None) -> Event:
    return Event(
        id=f"g-{backup_id}",
        source="/backup2gitops/gitops-generator",
        type=events.GITOPS_GENERATED,
        time=NOW,
        cluster="prod",
        data={
            "cluster": "prod",
            "backup_id": backup_id,
            "repository": "r",
            "branch": "main",
            "commit": "c" * 40,
            "noop": noop,
            "reason": reason,
        },
    )


def assert_stuck(ctx: FunctionContext, published: list[Event], backup_id: str, cause: str) -> None:
    reply = handler.handle(ping(f"p-{len(published)}"), ctx)
    assert reply is not None
    report = reply.data["report"] if reply.type == events.HEALTH_CHANGED else reply.data
    assert report["status"] == "unhealthy"
    component = report["components"]["watchdog/prod"]
    assert component["status"] == "unhealthy" and backup_id in component["message"]
    fired = stuck_events(published)[-1]
    assert fired.data["cause"] == cause and fired.data["backup_id"] == backup_id
    assert fired.data["max_age"] == "PT1H" and fired.data["age_s"] > 3600
    alert = alert_rules.effects_of(fired).firing[0]  # what alert-router raises from it
    assert alert.alertname == "BackupStuck" and alert.severity == "critical"
    response = client(handler.SPEC, ctx).get("/status", headers={"Accept": "application/json"})
    assert response.status_code == 503
    body = response.get_json()
    assert body["clusters"]["prod"]["stuck"]["backup_id"] == backup_id
    assert body["clusters"]["prod"]["stuck"]["cause"] == cause
    assert scrape_samples(ctx)[("backup2gitops_backup_stuck", (("backup_cluster", "prod"),))] == 1


def test_a_future_created_at_on_the_tip_freezing_the_branch_fires(tmp: Path, clock: Clock) -> None:
    """Issue 22 item 1: one backup stamped 2099 was committed; the three real backups after it
    were no-ops "older than the tip" -- recorded as generated, lag 0, everything green."""
    published: list[Event] = []
    ctx = context(tmp, clock, published)
    add_commit(
        work_clone(tmp),
        tmp / "remote.git",
        backup_id="b-2099",
        created=datetime.fromisoformat("2099-01-01T00:00:00+00:00"),
        empty=False,
    )
    put_backup(ctx.store, "prod", "b-2099", timedelta(hours=5))  # type: ignore[arg-type]
    for age, backup_id in ((4, "b2"), (3, "b3"), (2, "b4")):
        put_backup(ctx.store, "prod", backup_id, timedelta(hours=age))  # type: ignore[arg-type]
        reason = "older than the backup the branch reflects: b-2099 (2099-01-01T00:00:00+00:00)"
        handler.handle(generated(backup_id, noop=True, reason=reason), ctx)
    assert_stuck(ctx, published, "b4", "skipped")
    lag = client(handler.SPEC, ctx).get("/health").get_json()["components"]["gitops-lag/prod"]
    assert lag["status"] == "degraded"  # a skipped no-op is no progress for the lag either


def test_a_generator_that_never_ran_fires_once_the_lag_is_over(tmp: Path, clock: Clock) -> None:
    """The backup.completed event was lost: nothing ever says anything about the backup."""
    published: list[Event] = []
    ctx = context(tmp, clock, published)
    put_backup(ctx.store, "prod", "b1", timedelta(minutes=59))  # type: ignore[arg-type]
    reply = handler.handle(ping("p0"), ctx)
    assert reply is not None and reply.data["report"]["status"] == "healthy"
    assert (
        "waiting for its commit" in reply.data["report"]["components"]["watchdog/prod"]["message"]
    )
    assert stuck_events(published) == []
    clock.now = NOW + timedelta(minutes=2)  # 61 minutes after it landed
    assert_stuck(ctx, published, "b1", "not_generated")


def test_a_git_remote_that_never_answers_fires_and_the_commit_clears_it(
    tmp: Path, clock: Clock
) -> None:
    """The generator is held by a remote that accepts and never answers: it reports nothing and
    no commit appears (simulated by no commit appearing). When the commit finally lands the
    component is healthy again and alert-router resolves ``BackupStuck`` from ``health.changed``."""
    published: list[Event] = []
    ctx = context(tmp, clock, published)
    put_backup(ctx.store, "prod", "b1", timedelta(minutes=30))  # type: ignore[arg-type]
    handler.handle(ping("p0"), ctx)
    clock.now = NOW + timedelta(hours=1)
    assert_stuck(ctx, published, "b1", "not_generated")
    add_commit(
        work_clone(tmp), tmp / "remote.git", backup_id="b1", created=NOW - timedelta(minutes=31),
        empty=False,
    )  # fmt: skip
    before = len(stuck_events(published))
    clock.now += timedelta(minutes=5)
    reply = handler.handle(ping("p-after"), ctx)
    assert reply is not None and reply.type == events.HEALTH_CHANGED
    assert reply.data["report"]["components"]["watchdog/prod"]["status"] == "healthy"
    assert "watchdog/prod" in reply.data["changed_components"]
    assert len(stuck_events(published)) == before
    resolves = {r.alertname for r in alert_rules.effects_of(reply).resolves}
    assert "BackupStuck" in resolves
    assert scrape_samples(ctx)[("backup2gitops_backup_stuck", (("backup_cluster", "prod"),))] == 0


def test_a_noop_never_counts_as_progress(tmp: Path, clock: Clock) -> None:
    """The generator said ``noop`` for the backup and no commit names it: still stuck."""
    published: list[Event] = []
    ctx = context(tmp, clock, published)
    put_backup(ctx.store, "prod", "b1", timedelta(hours=2))  # type: ignore[arg-type]
    handler.handle(generated("b1", noop=True), ctx)
    assert_stuck(ctx, published, "b1", "skipped")


def test_with_record_unchanged_off_an_unchanged_backup_is_progress(tmp: Path, clock: Clock) -> None:
    """``generator.record_unchanged: false``: an unchanged backup makes no commit by design."""
    published: list[Event] = []
    ctx = context(tmp, clock, published, "generator: {record_unchanged: false}")
    put_backup(ctx.store, "prod", "b1", timedelta(hours=2))  # type: ignore[arg-type]
    handler.handle(generated("b1", noop=True), ctx)
    handler.handle(ping("p1"), ctx)
    assert stuck_events(published) == []
    handler.handle(generated("b1", noop=True, reason="older than the tip"), ctx)
    assert_stuck(ctx, published, "b1", "skipped")


def refusing_router(ctx: FunctionContext, url: str) -> FunctionContext:
    """alert-router on the same bucket, with one webhook receiver at ``url``."""
    config = parse_config(
        f"""
alerts:
  receivers: [{{name: hook, type: webhook, url: "{url}/hook"}}]
  routes: [{{receivers: [hook]}}]
""",
        {},
    )
    return FunctionContext(config, store=ctx.store, environ={}, clock=ctx.clock)


def clock_skew_failed(backup_id: str) -> Event:
    return Event(
        id=f"f-{backup_id}",
        source="/backup2gitops/backup-complete",
        type=events.BACKUP_FAILED,
        time=NOW,
        cluster="prod",
        data={
            "cluster": "prod",
            "backup_id": backup_id,
            "key": f"backups/prod/{backup_id}/manifest.json",
            "code": "clock_skew",
            "message": "finished_at 2099-01-01 is after the manifest landed",
        },
    )


def test_a_backup_refused_with_a_delivered_alert_is_not_stuck(
    tmp: Path, clock: Clock, recorder: Recorder
) -> None:
    published: list[Event] = []
    ctx = context(tmp, clock, published)
    router = refusing_router(ctx, recorder.url)
    put_backup(ctx.store, "prod", "b1", timedelta(hours=2))  # type: ignore[arg-type]
    recorder.reply("/hook", (503, "down"))
    with pytest.raises(Exception, match="hook"):
        alert_router.handle(clock_skew_failed("b1"), router)
    # the refusal reached no one: it is not "refused with an alert", so it is stuck
    assert_stuck(ctx, published, "b1", "not_generated")
    alert_router.handle(ping("tick-1"), router)  # the receiver is back: the tick delivers it
    assert len(recorder.to("/hook")) == 2
    count = len(stuck_events(published))
    reply = handler.handle(ping("p-refused"), ctx)
    assert reply is not None
    report = reply.data["report"] if reply.type == events.HEALTH_CHANGED else reply.data
    assert report["components"]["watchdog/prod"]["status"] == "healthy"
    assert "refused with a delivered alert" in report["components"]["watchdog/prod"]["message"]
    assert len(stuck_events(published)) == count  # it does not keep firing
    assert alerts.refusal_key("state/refusals/", "prod", "b1") in {
        i.key for i in ctx.store.list("state/refusals/")
    }


def test_an_unreadable_branch_gives_no_verdict(tmp: Path, clock: Clock) -> None:
    published: list[Event] = []
    ctx = context(tmp, clock, published)
    put_backup(ctx.store, "prod", "b1", timedelta(hours=2))  # type: ignore[arg-type]
    subprocess.run(["rm", "-rf", str(tmp / "remote.git")], check=True)
    reply = handler.handle(ping("p1"), ctx)
    assert reply is not None
    assert "watchdog/prod" not in reply.data["report"]["components"]
    assert stuck_events(published) == []  # the git check itself is unhealthy instead


def test_the_stuck_alert_is_routed_and_resolved_by_a_real_commit() -> None:
    ctx = FunctionContext(parse_config("{}", {}), store=MemoryStore(), environ={})
    stale = Event(
        id="s1",
        source="/backup2gitops/health-aggregator",
        type=events.BACKUP_STALE,
        time=NOW,
        cluster="prod",
        data=events.BackupStale(
            cluster="prod",
            last_backup_at=NOW,
            max_age="PT1H",
            age_s=4000,
            cause="not_generated",
            backup_id="b1",
            landed_at=NOW,
        ).model_dump(mode="json"),
    )
    alert_router.handle(stale, ctx)
    fingerprint = alerts.fingerprint(alertname="BackupStuck", cluster="prod", component="gitops")
    assert ctx.store.stat(f"state/alerts/{fingerprint}.json") is not None
    alert_router.handle(generated("b0", noop=True), ctx)  # a no-op resolves nothing
    assert ctx.store.stat(f"state/alerts/{fingerprint}.json") is not None
    alert_router.handle(generated("b1", noop=False), ctx)
    assert ctx.store.stat(f"state/alerts/{fingerprint}.json") is None
