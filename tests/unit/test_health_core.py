from datetime import UTC, datetime, timedelta

from backup2gitops.core import health
from backup2gitops.core.health import BackupMark, CheckResult, CommitMark

NOW = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)


def test_aggregate() -> None:
    ok = CheckResult("storage", "healthy", critical=True)
    assert health.aggregate([ok]) == "healthy"
    assert health.aggregate([ok, CheckResult("x", "degraded")]) == "degraded"
    assert health.aggregate([ok, CheckResult("receiver/am", "unhealthy")]) == "degraded"
    assert health.aggregate([CheckResult("git", "unhealthy", critical=True), ok]) == "unhealthy"
    assert health.aggregate([]) == "healthy"


def test_report_and_changes() -> None:
    first = health.build_report(
        [CheckResult("git", "healthy", 12.34, critical=True), CheckResult("storage", "healthy")],
        checked_at=NOW,
    )
    assert first.status == "healthy" and first.components["git"].latency_ms == 12.3
    assert health.has_changed(None, first)
    assert health.changed_components(None, first) == ["git", "storage"]
    same = health.build_report(
        [CheckResult("git", "healthy", 99), CheckResult("storage", "healthy")], checked_at=NOW
    )
    assert not health.has_changed(first, same)  # latency and time do not count
    worse = health.build_report(
        [CheckResult("git", "unhealthy", critical=True), CheckResult("new", "healthy")],
        checked_at=NOW,
    )
    assert health.changed_components(first, worse) == ["git", "new", "storage"]
    assert health.has_changed(first, worse)


def test_freshness() -> None:
    mark = BackupMark("prod", "b1", NOW - timedelta(hours=27))
    stale = health.freshness(cluster="prod", newest=mark, max_age=timedelta(hours=26), now=NOW)
    assert stale.name == "freshness/prod" and stale.status == "degraded"
    assert "stale" in stale.message and "PT26H" in stale.message
    fresh = health.freshness(cluster="prod", newest=mark, max_age=timedelta(hours=28), now=NOW)
    assert fresh.status == "healthy"
    none = health.freshness(cluster="prod", newest=None, max_age=timedelta(hours=1), now=NOW)
    assert none.status == "degraded"
    facts = health.cluster_facts(
        cluster="prod", newest=mark, commit=None, max_age=timedelta(hours=26), now=NOW
    )
    assert facts.stale and facts.lag_s == 27 * 3600


def test_gitops_lag() -> None:
    newest = BackupMark("prod", "b2", NOW - timedelta(hours=2))
    committed = CommitMark("prod", "b2", "c" * 40, NOW - timedelta(hours=1))
    older = CommitMark("prod", "b1", "d" * 40, NOW - timedelta(hours=3))
    result, lag = health.gitops_lag(
        cluster="prod", newest=newest, commit=committed, max_lag=timedelta(hours=1), now=NOW
    )
    assert (result.status, lag) == ("healthy", 0.0)
    result, lag = health.gitops_lag(
        cluster="prod", newest=newest, commit=older, max_lag=timedelta(hours=1), now=NOW
    )
    assert result.status == "degraded" and lag == 7200 and "b2" in result.message
    result, lag = health.gitops_lag(
        cluster="prod", newest=newest, commit=None, max_lag=timedelta(hours=3), now=NOW
    )
    assert result.status == "healthy" and lag == 7200
    result, lag = health.gitops_lag(
        cluster="prod", newest=None, commit=None, max_lag=timedelta(hours=1), now=NOW
    )
    assert lag is None and result.status == "healthy"


def test_duration_iso() -> None:
    assert health.duration_iso(timedelta(hours=26)) == "PT26H"
    assert health.duration_iso(timedelta(days=2, minutes=30)) == "PT48H30M"
    assert health.duration_iso(timedelta(days=1)) == "P1D"
    assert health.duration_iso(timedelta(0)) == "PT0S"


def test_best_commit_prefers_the_one_naming_the_newest_backup() -> None:
    newest = BackupMark("prod", "b2", NOW - timedelta(hours=2))
    trailer = CommitMark("prod", "b1", "a", NOW - timedelta(hours=1))
    generated = CommitMark("prod", "b2", "a", NOW - timedelta(hours=3))
    assert health.best_commit(newest, trailer, generated) is generated
    assert health.best_commit(newest, trailer, None) is trailer
    assert health.best_commit(None, None, None) is None
