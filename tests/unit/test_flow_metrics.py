"""core.flow_metrics, core.interval_cache and the delivery-record keys (core.delivery_records)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from backup2gitops.core import bucket_layout, delivery_records
from backup2gitops.core.delivery_records import DeliveryRecord
from backup2gitops.core.flow_metrics import (
    LATENCY_BUCKETS_S,
    CommitFact,
    backup_to_commit_s,
    flow_counts,
    histogram,
)
from backup2gitops.core.interval_cache import IntervalCache

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def commit(
    backup_id: str, *, cluster: str = "prod", after_s: float | None = 90, changed: bool = True
) -> CommitFact:
    return CommitFact(
        commit=f"c-{backup_id}",
        cluster=cluster,
        backup_id=backup_id,
        committed_at=T0 + timedelta(seconds=after_s or 0),
        backup_created_at=T0 if after_s is not None else None,
        changed=changed,
    )


def record(
    alertname: str,
    delivery: str,
    *,
    receiver: str = "am",
    outcome: str = "delivered",
    status: str = "firing",
    cluster: str = "prod",
) -> DeliveryRecord:
    return DeliveryRecord(
        receiver=receiver,
        outcome=outcome,
        alertname=alertname,
        cluster=cluster,
        status=status,
        delivery=delivery,
    )


def test_completed_is_the_union_of_markers_and_commits() -> None:
    counts = flow_counts(
        commits=[commit("b1"), commit("b2", changed=False), commit("s1", cluster="stage")],
        completed=[
            ("prod", "b2"),
            ("prod", "b3"),
        ],  # b1's marker gone (retention), b3 not generated
        deliveries=[],
    )
    assert counts.backups_completed == {"prod": 3, "stage": 1}
    assert counts.generations == {"prod": 2, "stage": 1}
    assert counts.commits == {"prod": 1, "stage": 1}  # b2 changed nothing: an empty commit


def test_failures_count_events_once_whatever_their_receivers_and_resolutions() -> None:
    deliveries = [
        record("BackupFailed", "d1"),
        record("BackupFailed", "d1", receiver="slack"),  # the same alert to a second receiver
        record("BackupFailed", "d1", outcome="failed"),  # and its first, failed, attempt
        record("BackupFailed", "d2", cluster="stage"),
        record("BackupFailed", "r1", status="resolved"),  # a resolution is not a failure
        record("GitopsFailed", "g1"),
        record("BackupStale", "s1"),
    ]
    counts = flow_counts(commits=[], completed=[], deliveries=deliveries)
    assert counts.backups_failed == {"prod": 1, "stage": 1}
    assert counts.generations_failed == {"prod": 1}
    assert counts.deliveries == {
        ("am", "delivered"): 5,
        ("am", "failed"): 1,
        ("slack", "delivered"): 1,
    }


def test_latency_histogram_is_cumulative_and_skips_commits_without_the_trailer() -> None:
    counts = flow_counts(
        commits=[commit("b1", after_s=5), commit("b2", after_s=90), commit("b3", after_s=None)],
        completed=[],
        deliveries=[],
    )
    hist = counts.latency["prod"]
    assert hist.count == 2 and hist.sum == 95
    as_dict = dict(hist.buckets)
    assert as_dict[10] == 1 and as_dict[60] == 1 and as_dict[120] == 2 and as_dict[86400] == 2
    assert [bound for bound, _ in hist.buckets] == list(LATENCY_BUCKETS_S)


def test_a_commit_before_its_backup_by_the_clocks_is_zero_not_negative() -> None:
    early = CommitFact("c", "prod", "b", T0 - timedelta(seconds=3), T0, True)
    assert backup_to_commit_s(early) == 0.0
    assert histogram([0.0]).buckets[0] == (10, 1)


def test_delivery_record_key_round_trips_and_refuses_foreign_keys() -> None:
    entry = record("GitOpsDrift", "abc123", cluster="")
    key = delivery_records.delivery_record_key(prefix="state/deliveries/", record=entry)
    assert key == "state/deliveries/am/delivered/GitOpsDrift/_/firing/abc123"
    assert delivery_records.parse_delivery_record_key(key, prefix="state/deliveries/") == entry
    assert delivery_records.parse_delivery_record_key(key, prefix="state/other/") is None
    assert (
        delivery_records.parse_delivery_record_key(
            "state/deliveries/am/x/a/b/c/d", prefix="state/deliveries"
        )
        is None
    )
    assert (
        delivery_records.parse_delivery_record_key(
            "state/deliveries/am/delivered/a", prefix="state/deliveries"
        )
        is None
    )
    with pytest.raises(bucket_layout.LayoutError):
        delivery_records.delivery_record_key(
            prefix="state/deliveries/", record=record("A", "d", outcome="replayed")
        )


def test_a_hostile_segment_becomes_a_placeholder() -> None:
    key = delivery_records.delivery_record_key(
        prefix="s/", record=record("../etc", "d", cluster="a/b")
    )
    assert key == "s/am/delivered/_/_/firing/d"


class FakeClock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def test_interval_cache_computes_once_per_interval_on_the_injected_clock() -> None:
    clock, calls = FakeClock(), []

    def compute() -> int:
        calls.append(clock.now)
        return len(calls)

    cache = IntervalCache(compute, interval=timedelta(seconds=60), clock=clock)
    assert cache.get() == 1
    clock.now += timedelta(seconds=59)
    assert cache.get() == 1  # still within the interval: nothing refetched
    clock.now += timedelta(seconds=1)
    assert cache.get() == 2  # the interval is over
    clock.now -= timedelta(hours=1)  # a clock set back does not pin a value for an hour
    assert cache.get() == 3
    assert len(calls) == 3


def test_interval_cache_does_not_keep_a_failure() -> None:
    clock, answers = FakeClock(), iter([RuntimeError("down"), 7])

    def compute() -> int:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    cache = IntervalCache(compute, interval=timedelta(seconds=60), clock=clock)
    with pytest.raises(RuntimeError):
        cache.get()
    assert cache.get() == 7


def test_one_series_per_state_and_no_half_values() -> None:
    from backup2gitops.core.flow_metrics import STATES, state_series

    for current in STATES:
        series = state_series(current)
        assert set(series) == set(STATES) and sum(series.values()) == 1.0
        assert series[current] == 1.0
    with pytest.raises(ValueError, match="unknown state 'sick'"):
        state_series("sick")
