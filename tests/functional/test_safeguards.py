"""The branch never goes back in time and never loses a cluster (generation + a real bare remote).

See docs/reliability.md: each test here is a case there.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from backup2gitops import generation
from backup2gitops.adapters.git import GitRemote
from backup2gitops.core import safeguards
from backup2gitops.core.archive import BackupItem
from backup2gitops.core.cleaning import CleaningPolicy
from tests.functional.test_generation import configmap, tarball
from tests.git_repos import bare_repository, git_remote
from tests.git_repos import git_dir_output as git

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


@pytest.fixture
def bare(tmp_path: Path) -> Path:
    return bare_repository(tmp_path / "remote.git")


def backup(
    bare: Path,
    cache: Path,
    *,
    backup_id: str,
    minute: int,
    items: list[BackupItem] | None = None,
    claims: generation.Claims | None = None,
    remote: GitRemote | None = None,
) -> generation.Outcome:
    """Generate a backup completed ``minute`` minutes after T0 holding ConfigMap shop/<id>."""
    items = items if items is not None else [configmap("shop", "cm", backup_id)]
    data = tarball(items)
    return generation.generate(
        archive=lambda: io.BytesIO(data),
        remote=remote or git_remote(bare, cache),
        cluster="prod",
        backup_id=backup_id,
        policy=CleaningPolicy(),
        claims=claims
        or generation.Claims(
            created_at=T0 + timedelta(minutes=minute), items=len(items), complete=True
        ),
    )


def folder_value(bare: Path) -> str:
    text = git(bare, "show", "main:clusters/prod/namespaces/shop/configmaps/cm.yaml")
    return text.split("key:")[1].strip()


def test_out_of_order_delivery_never_moves_the_folder_back(bare: Path, tmp_path: Path) -> None:
    cache = tmp_path / "c"
    backup(bare, cache, backup_id="b02", minute=2)
    backup(bare, cache, backup_id="b03", minute=3)
    with pytest.raises(generation.BackupRefused) as late:  # an alert, not a quiet no-op
        backup(bare, cache, backup_id="b01", minute=1)
    assert late.value.code == "out_of_order" and late.value.permanent
    assert "b01" in late.value.message and "b03" in late.value.message
    assert folder_value(bare) == "b03"
    assert git(bare, "rev-list", "--count", "main").strip() == "2"
    head = git(bare, "log", "-1", "--format=%B", "main")
    assert "Backup-Created-At: 2026-11-23T02:03:00+00:00" in head


def test_in_order_delivery_moves_forward(bare: Path, tmp_path: Path) -> None:
    cache = tmp_path / "c"
    for n in (1, 2, 3):
        assert not backup(bare, cache, backup_id=f"b0{n}", minute=n).commit.noop
    assert folder_value(bare) == "b03"


def test_equal_completion_times_are_ordered_by_backup_id(bare: Path, tmp_path: Path) -> None:
    cache = tmp_path / "c"
    backup(bare, cache, backup_id="b-b", minute=5)
    with pytest.raises(generation.BackupRefused, match="older than"):
        backup(bare, cache, backup_id="b-a", minute=5)
    assert not backup(bare, cache, backup_id="b-c", minute=5).commit.noop
    assert folder_value(bare) == "b-c"


def test_the_order_is_checked_again_on_the_tip_a_lost_race_fetched(
    bare: Path, tmp_path: Path
) -> None:
    """The older backup passes the check on the old tip; while it writes its tree, a newer one
    lands. Its push is refused, it fetches, and on the new tip it is superseded."""
    backup(bare, tmp_path / "a", backup_id="b01", minute=1)
    old = configmap("shop", "cm", "b02")
    newer_landed: list[str] = []

    class RacingItems(list[BackupItem]):
        def __iter__(self) -> Iterator[BackupItem]:
            if not newer_landed:  # the first attempt only: another process pushes b03 now
                backup(bare, tmp_path / "b", backup_id="b03", minute=3)
                newer_landed.append("b03")
            return super().__iter__()

    racing = RacingItems([old])
    data = tarball(list(racing))

    def archive() -> io.BytesIO:
        for _ in racing:  # the race happens while the archive is being read
            pass
        return io.BytesIO(data)

    with pytest.raises(generation.BackupRefused) as refused:
        generation.generate(
            archive=archive,
            remote=git_remote(bare, tmp_path / "a"),
            cluster="prod",
            backup_id="b02",
            policy=CleaningPolicy(),
            claims=generation.Claims(created_at=T0 + timedelta(minutes=2), items=1, complete=True),
        )
    assert newer_landed
    assert refused.value.code == "out_of_order"
    assert folder_value(bare) == "b03"


def test_an_empty_archive_is_refused_and_the_cluster_kept(bare: Path, tmp_path: Path) -> None:
    backup(bare, tmp_path / "c", backup_id="b01", minute=1)
    before = git(bare, "rev-parse", "main")
    with pytest.raises(generation.BackupRefused) as refused:
        backup(
            bare,
            tmp_path / "c",
            backup_id="b02",
            minute=2,
            items=[],
            claims=generation.Claims(created_at=T0 + timedelta(minutes=2), items=400),
        )
    assert refused.value.code == "archive_empty"
    assert git(bare, "rev-parse", "main") == before


def test_an_empty_archive_of_an_empty_cluster_stands() -> None:
    assert safeguards.count_refusal(read=0, claimed=0) is None
    assert safeguards.count_refusal(read=0, claimed=None) is not None  # no claim: no proof
    assert safeguards.count_refusal(read=0, claimed=1) is not None


def test_fewer_items_than_claimed_is_refused(bare: Path, tmp_path: Path) -> None:
    items = [configmap("shop", f"o{i}", "v") for i in range(4)]
    with pytest.raises(generation.BackupRefused) as refused:
        backup(
            bare,
            tmp_path / "c",
            backup_id="b01",
            minute=1,
            items=items,
            claims=generation.Claims(items=5, complete=True),
        )
    assert refused.value.code == "archive_incomplete"
    assert git(bare, "branch").strip() == ""


def archive_of(n: int) -> list[BackupItem]:
    return [configmap("shop", f"o{i}", "v") for i in range(n)]


@pytest.mark.parametrize(
    ("claims", "refused"),
    [
        (generation.Claims(items=1, complete=False), True),  # Velero PartiallyFailed, say
        (generation.Claims(items=None, complete=True), True),  # no count to confirm it
        (generation.Claims(items=1, complete=True), False),  # both counts agree
    ],
)
def test_removing_most_of_a_cluster_needs_a_confirmed_backup(
    bare: Path, tmp_path: Path, claims: generation.Claims, refused: bool
) -> None:
    backup(bare, tmp_path / "c", backup_id="b01", minute=1, items=archive_of(4))
    before = git(bare, "rev-parse", "main")
    if refused:
        with pytest.raises(generation.BackupRefused) as caught:
            backup(
                bare, tmp_path / "c", backup_id="b02", minute=2, items=archive_of(1), claims=claims
            )
        assert (
            caught.value.code == "mass_deletion" and "3 of the cluster's 4" in caught.value.message
        )
        assert git(bare, "rev-parse", "main") == before
    else:
        done = backup(
            bare, tmp_path / "c", backup_id="b02", minute=2, items=archive_of(1), claims=claims
        )
        assert done.commit.removed == 3


def test_the_deletion_share_is_configurable(bare: Path, tmp_path: Path) -> None:
    backup(bare, tmp_path / "c", backup_id="b01", minute=1, items=archive_of(4))
    lenient = generation.Claims(items=None, max_deletion_share=0.8)
    assert (
        backup(
            bare, tmp_path / "c", backup_id="b02", minute=2, items=archive_of(1), claims=lenient
        ).commit.removed
        == 3
    )
    strict = generation.Claims(items=None, max_deletion_share=0.0)
    with pytest.raises(generation.BackupRefused):
        backup(
            bare,
            tmp_path / "c",
            backup_id="b03",
            minute=3,
            items=[configmap("shop", "other", "v")],  # removes the one object left
            claims=strict,
        )


def test_removing_half_or_less_needs_no_confirmation(bare: Path, tmp_path: Path) -> None:
    backup(bare, tmp_path / "c", backup_id="b01", minute=1, items=archive_of(4))
    unconfirmed = generation.Claims(items=None)
    done = backup(
        bare, tmp_path / "c", backup_id="b02", minute=2, items=archive_of(2), claims=unconfirmed
    )
    assert done.commit.removed == 2


def test_a_hostile_kind_cannot_switch_off_another_clusters_order_guard(
    bare: Path, tmp_path: Path
) -> None:
    """Issue 22 item 7: a c1 archive whose kind holds a newline and ``Cluster: c2`` once put
    that line in a c1 commit; the order check looked c2 up with ``git log --grep`` and, finding
    that commit, gave up -- a replayed, older c2 backup was then committed. Trailers are parsed
    now, and control characters never reach a message."""
    cache = tmp_path / "c"

    def c2(backup_id: str, minute: int) -> generation.Outcome:
        data = tarball([configmap("shop", "cm", backup_id)])
        return generation.generate(
            archive=lambda: io.BytesIO(data),
            remote=git_remote(bare, cache),
            cluster="c2",
            backup_id=backup_id,
            policy=CleaningPolicy(),
            claims=generation.Claims(
                created_at=T0 + timedelta(minutes=minute), items=1, complete=True
            ),
        )

    c2("c2-new", 30)
    hostile = configmap("shop", "evil", "x")
    hostile.obj["kind"] = "ConfigMap\n\nCluster: c2\n"
    data = tarball([hostile])
    generation.generate(
        archive=lambda: io.BytesIO(data),
        remote=git_remote(bare, cache),
        cluster="c1",
        backup_id="c1-b",
        policy=CleaningPolicy(),
        claims=generation.Claims(created_at=T0 + timedelta(minutes=31), items=1, complete=True),
    )
    message = git(bare, "log", "-1", "--format=%B", "main")
    assert "c1: backup c1-b" in message
    assert "Cluster: c2" not in message.splitlines()

    with pytest.raises(generation.BackupRefused) as refused:
        c2("c2-old", 0)  # replayed: 30 minutes older than what the branch has for c2
    assert refused.value.code == "out_of_order"
    text = git(bare, "show", "main:clusters/c2/namespaces/shop/configmaps/cm.yaml")
    assert text.split("key:")[1].strip() == "c2-new"
