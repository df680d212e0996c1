"""core.retention_plan: which backups ``backups.keep`` deletes (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from backup2gitops.core.retention_plan import KeepPolicy, StoredBackup, plan

NOW = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)
GRACE = timedelta(hours=1)


def daily(days: int) -> list[StoredBackup]:
    """One complete backup a day, the newest finished an hour ago."""
    out = []
    for age in range(days):
        at = NOW - timedelta(hours=1) - timedelta(days=age)
        out.append(StoredBackup(at.strftime("%Y%m%dt%H%M%Sz"), True, at, at))
    return out


def ids(backups: list[StoredBackup], *indexes: int) -> list[str]:
    return [backups[i].backup_id for i in indexes]


def doomed(backups: list[StoredBackup], keep: KeepPolicy, now: datetime = NOW) -> list[str]:
    return [d.backup_id for d in plan(backups, keep=keep, now=now, grace=GRACE)]


def test_nothing_is_deleted_without_a_limit() -> None:
    assert doomed(daily(30), KeepPolicy()) == []


def test_count_keeps_the_newest_n_and_deletes_oldest_first() -> None:
    backups = daily(5)
    assert doomed(backups, KeepPolicy(count=3)) == ids(backups, 4, 3)


def test_order_is_by_finished_at_not_by_listing_order() -> None:
    backups = daily(4)
    assert doomed(list(reversed(backups)), KeepPolicy(count=2)) == ids(backups, 3, 2)


def test_max_age_deletes_what_finished_longer_ago() -> None:
    backups = daily(10)
    # ages 1h, 1d1h, ..., 9d1h: over 7 days are the last three
    assert doomed(backups, KeepPolicy(max_age=timedelta(days=7))) == ids(backups, 9, 8, 7)


def test_both_limits_apply() -> None:
    backups = daily(10)
    assert doomed(backups, KeepPolicy(count=3, max_age=timedelta(days=7))) == ids(
        backups, 9, 8, 7, 6, 5, 4, 3
    )
    assert doomed(backups, KeepPolicy(count=9, max_age=timedelta(days=2))) == ids(
        backups, 9, 8, 7, 6, 5, 4, 3, 2
    )


def test_the_newest_complete_backup_is_never_deleted() -> None:
    backups = daily(3)
    later = NOW + timedelta(days=365)
    assert doomed(backups, KeepPolicy(max_age=timedelta(minutes=1)), now=later) == ids(
        backups, 2, 1
    )
    assert doomed(backups, KeepPolicy(count=1)) == ids(backups, 2, 1)


def test_an_unreadable_marker_is_kept_and_not_counted() -> None:
    backups = daily(3)
    unreadable = StoredBackup("zzz-unreadable", True, None, NOW - timedelta(days=400))
    assert doomed([*backups, unreadable], KeepPolicy(count=2)) == ids(backups, 2)


def test_incomplete_folders_go_once_untouched_for_the_grace() -> None:
    backups = daily(2)
    stale = StoredBackup("20261001t020000z", False, None, NOW - GRACE - timedelta(seconds=1))
    fresh = StoredBackup("20261130t025959z", False, None, NOW - GRACE)
    assert doomed([*backups, stale, fresh], KeepPolicy(count=5)) == [stale.backup_id]
    # an incomplete folder never stands in for the newest complete backup
    only = [daily(1)[0], stale]
    assert doomed(only, KeepPolicy(count=1)) == [stale.backup_id]


def test_incomplete_folders_are_left_alone_when_retention_is_off() -> None:
    stale = StoredBackup("20261001t020000z", False, None, NOW - timedelta(days=30))
    assert doomed([stale], KeepPolicy()) == []


def test_reasons_say_which_limit() -> None:
    backups = daily(3)
    reasons = [
        d.reason
        for d in plan(
            backups, keep=KeepPolicy(count=2, max_age=timedelta(hours=2)), now=NOW, grace=GRACE
        )
    ]
    assert reasons == ["beyond the newest 2", "finished more than 2:00:00 ago"]


@pytest.mark.parametrize(
    "bad", [{"count": 0}, {"max_age": "-P1D"}, {"max_age": "PT0S"}, {"keep": 3}]
)
def test_invalid_policies_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        KeepPolicy.model_validate(bad)
