"""The guards and the generator's publish loop on the in-memory repository (no git): the branch
never goes back in time, never loses a cluster, and the order is asked again after a lost race.
The same behaviours against real git: tests/functional/test_safeguards.py."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest

from backup2gitops import generation
from backup2gitops.adapters.git.memory import MemoryRepository
from backup2gitops.core import safeguards, trailers
from backup2gitops.core.archive import ArchiveWriter
from backup2gitops.core.cleaning import CleaningPolicy

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
FILE = "clusters/{cluster}/namespaces/shop/configmaps/{name}.yaml"


def archive(*names: str, value: str = "v") -> bytes:
    out = io.BytesIO()
    with ArchiveWriter(out) as writer:
        for name in names:
            obj = {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": name, "namespace": "shop"},
                "data": {"key": value},
            }
            writer.add(group_resource="configmaps", namespace="shop", name=name, obj=obj)
    return out.getvalue()


def job(
    repo: MemoryRepository,
    *,
    backup_id: str,
    minute: int | None,
    cluster: str = "prod",
    names: tuple[str, ...] = ("cm",),
    value: str | None = None,
    claims: generation.Claims | None = None,
    sleeps: list[float] | None = None,
) -> generation.GenerationJob:
    data = archive(*names, value=value or backup_id)
    created = T0 + timedelta(minutes=minute) if minute is not None else None
    return generation.GenerationJob(
        archive=lambda: io.BytesIO(data),
        remote=repo,
        cluster=cluster,
        backup_id=backup_id,
        policy=CleaningPolicy(),
        claims=claims or generation.Claims(created_at=created, items=len(names), complete=True),
        sleep=(sleeps.append if sleeps is not None else lambda _: None),
    )


def value_of(repo: MemoryRepository, cluster: str = "prod", name: str = "cm") -> str:
    text = repo.files()[FILE.format(cluster=cluster, name=name)].decode()
    return text.split("key:")[1].strip()


def test_a_backup_already_on_the_branch_is_a_noop() -> None:
    repo = MemoryRepository()
    first = job(repo, backup_id="b1", minute=1).run()
    again = job(repo, backup_id="b1", minute=1).run()
    assert not first.commit.noop and again.commit.noop
    assert again.commit.commit == first.commit.commit
    assert len(repo.log(repo.branches["main"])) == 1


def test_an_older_backup_is_refused_out_of_order() -> None:
    repo = MemoryRepository()
    job(repo, backup_id="b2", minute=2).run()
    with pytest.raises(generation.BackupRefused) as refused:
        job(repo, backup_id="b1", minute=1).run()
    assert refused.value.code == "out_of_order" and refused.value.permanent
    assert value_of(repo) == "b2"


def test_the_order_is_asked_again_after_a_lost_race() -> None:
    """The surviving mutant of issue 22: b2 passes the order check on the tip it opened; as its
    push goes out, b3 of the same cluster lands. The retry opens the new tip and refuses b2."""
    repo = MemoryRepository()
    job(repo, backup_id="b1", minute=1).run()
    racer = job(repo, backup_id="b3", minute=3)

    def newer_lands() -> None:
        racer.run()

    repo.before_push = newer_lands
    with pytest.raises(generation.BackupRefused) as refused:
        job(repo, backup_id="b2", minute=2).run()
    assert refused.value.code == "out_of_order"
    assert value_of(repo) == "b3"
    subjects = [c.message.splitlines()[0] for c in repo.log(repo.branches["main"])]
    assert [s.split(" (")[0] for s in subjects] == ["prod: backup b3", "prod: backup b1"]


def test_a_race_lost_to_another_cluster_is_re_applied_with_the_same_figures() -> None:
    repo = MemoryRepository()
    other = job(repo, backup_id="s1", minute=1, cluster="stage")

    def other_lands() -> None:
        other.run()

    repo.before_push = other_lands
    sleeps: list[float] = []
    done = job(repo, backup_id="b1", minute=1, names=("a", "b"), sleeps=sleeps).run()
    assert not done.commit.noop and done.commit.added == 2
    assert done.plan.objects == 2
    assert len(sleeps) == 1  # one backoff before the second attempt
    assert value_of(repo, "stage") == "s1" and value_of(repo, "prod", "a") == "b1"
    head = repo.head()
    assert head is not None
    assert trailers.backup_trailers(trailers.parse(head.message)) == trailers.BackupTrailers(
        "b1", "prod", T0 + timedelta(minutes=1)
    )


def test_removing_most_of_a_cluster_needs_both_counts() -> None:
    repo = MemoryRepository()
    job(repo, backup_id="b1", minute=1, names=("a", "b", "c", "d")).run()
    unconfirmed = generation.Claims(created_at=T0 + timedelta(minutes=2), items=None)
    with pytest.raises(generation.BackupRefused) as refused:
        job(repo, backup_id="b2", minute=2, names=("a",), claims=unconfirmed).run()
    assert refused.value.code == "mass_deletion"
    assert "3 of the cluster's 4" in refused.value.message
    confirmed = generation.Claims(created_at=T0 + timedelta(minutes=2), items=1, complete=True)
    assert (
        job(repo, backup_id="b2", minute=2, names=("a",), claims=confirmed).run().commit.removed
        == 3
    )


def test_an_archive_short_of_its_claim_is_refused_before_anything_is_removed() -> None:
    repo = MemoryRepository()
    job(repo, backup_id="b1", minute=1, names=("a", "b")).run()
    before = repo.branches["main"]
    claims = generation.Claims(created_at=T0 + timedelta(minutes=2), items=5, complete=True)
    with pytest.raises(generation.BackupRefused) as refused:
        job(repo, backup_id="b2", minute=2, names=("a",), claims=claims).run()
    assert refused.value.code == "archive_incomplete"
    assert repo.branches["main"] == before


def test_an_unchanged_backup_is_recorded_as_an_empty_commit() -> None:
    repo = MemoryRepository()
    job(repo, backup_id="b1", minute=1, value="same").run()
    again = job(repo, backup_id="b2", minute=2, value="same").run()
    assert not again.commit.noop and (again.commit.added, again.commit.changed) == (0, 0)
    with repo.open() as tip:
        newest = safeguards.newest_mark(tip.backups(), cluster="prod")
    assert newest is not None and newest[1].backup_id == "b2"


def test_newest_mark_reads_the_clusters_own_commit_only() -> None:
    history = [
        trailers.BackupCommit("c3", trailers.BackupTrailers("x", "c1", T0)),
        trailers.BackupCommit("c2", trailers.BackupTrailers("b9", "c2", T0 + timedelta(hours=1))),
    ]
    newest = safeguards.newest_mark(history, cluster="c2")
    assert newest == ("c2", safeguards.BackupMark("b9", T0 + timedelta(hours=1)))
    assert safeguards.commit_of(history, backup_id="x", cluster="c2") is None
    assert safeguards.commit_of(history, backup_id="x", cluster="c1") == "c3"


def test_a_commit_without_a_completion_time_enforces_no_order() -> None:
    history = [trailers.BackupCommit("c1", trailers.BackupTrailers("old", "prod", None))]
    assert safeguards.newest_mark(history, cluster="prod") is None


def test_equal_times_are_ordered_by_backup_id() -> None:
    a, b = safeguards.BackupMark("b-a", T0), safeguards.BackupMark("b-b", T0)
    assert safeguards.superseded_by(a, b) is not None
    assert safeguards.superseded_by(b, a) is None
    assert safeguards.superseded_by(a, a) is None


def test_a_completion_later_than_its_marker_is_clock_skew() -> None:
    marker = T0
    tolerance = timedelta(minutes=5)
    assert (
        safeguards.clock_skew(
            created_at=T0 + timedelta(minutes=4), marker_modified=marker, tolerance=tolerance
        )
        is None
    )
    reason = safeguards.clock_skew(
        created_at=T0 + timedelta(days=365), marker_modified=marker, tolerance=tolerance
    )
    assert reason is not None and "after its completion marker" in reason


def test_the_backoff_is_jittered_and_capped() -> None:
    waits = [generation.backoff(n) for n in range(2, 40)]
    assert all(0 <= w <= 5.0 for w in waits)
    assert len(set(waits)) > 1
