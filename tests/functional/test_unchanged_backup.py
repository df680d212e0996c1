"""A backup that is the committed one again skips the per-member pass (``generation.unchanged``):
against a real bare remote, what it commits (the folder's tree, the message, the figures) is
what the per-member pass commits for the same backup on the same repository, and anything that
could make the two differ (a file or a foreign file by hand, another member order, other
settings, a cache that says nothing or lies in its shape) sends it through the pass."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from backup2gitops import generation
from backup2gitops.core.archive import BackupItem
from backup2gitops.core.cleaning import CleaningPolicy
from backup2gitops.generation import reading
from tests.functional.generate_cli import generate_report
from tests.functional.git_trace import traced_argv
from tests.functional.test_member_cache import (
    CACHE,
    ROOT,
    commit_by_hand,
    configmap,
    counted,
    deployment,
    folder_tree,
    git,
    init_bare,
    run,
    statefulset,
    tarball,
)
from tests.unit.test_whole_backup import PLAN_FIGURES


def rich() -> list[BackupItem]:
    """What the commit message counts (``counted``), an object whose path lies (refused as it
    is read), a StatefulSet, a Deployment."""
    liar = statefulset(["data"])
    liar.obj["metadata"]["name"] = "not-its-path"
    liar = BackupItem(liar.group_resource, liar.namespace, "pg-2", liar.obj)
    return [
        *counted(),
        liar,
        statefulset(["data"]),
        *(configmap(f"c{i}") for i in range(4)),
        deployment(),
    ]


def message(bare: Path) -> str:
    return git(bare, "log", "-1", "--format=%B", "main")


def figures(outcome: generation.Outcome) -> dict[str, Any]:
    return {name: getattr(outcome.plan, name) for name in PLAN_FIGURES}


def test_the_same_backup_again_is_the_committed_folder_with_its_figures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast = init_bare(tmp_path / "fast.git")
    first = run(fast, rich(), backup_id="b1")
    again = run(fast, rich(), backup_id="b2")
    assert again.plan.unchanged and again.plan.decoded == 0
    assert (again.commit.added, again.commit.changed, again.commit.removed) == (0, 0, 0)
    assert not again.commit.noop  # the backup is recorded: a commit of the same tree
    assert git(fast, "rev-parse", "main^{tree}") == git(fast, "rev-parse", "main~1^{tree}")
    assert figures(again) == figures(first)
    assert again.plan.credentials_total == 2 and again.plan.excluded == 2

    slow = init_bare(tmp_path / "slow.git")
    run(slow, rich(), backup_id="b1")
    with monkeypatch.context() as patch:
        patch.setattr(reading.MemberPass, "unchanged", lambda self, links=(): False)
        passed = run(slow, rich(), backup_id="b2")
    assert not passed.plan.unchanged
    assert figures(passed) == figures(again)
    assert folder_tree(slow) == folder_tree(fast)
    assert message(slow) == message(fast)


def test_an_unchanged_backup_without_a_record_is_a_no_op(tmp_path: Path) -> None:
    bare = init_bare(tmp_path / "r.git")
    run(bare, rich(), backup_id="b1")
    tip = git(bare, "rev-parse", "main")
    again = run(bare, rich(), backup_id="b2", record_unchanged=False)
    assert again.plan.unchanged and again.commit.noop
    assert git(bare, "rev-parse", "main") == tip


def test_a_dry_run_and_a_compared_commit_of_an_unchanged_backup(tmp_path: Path) -> None:
    bare = init_bare(tmp_path / "r.git")
    run(bare, rich(), backup_id="b1")
    would = run(bare, rich(), backup_id="b2", dry_run=True, diff=True)
    assert would.plan.unchanged and would.commit.dry_run and would.commit.changes == ()
    compared = run(bare, rich(), backup_id="b3", compare=True)
    assert compared.plan.unchanged and compared.compared is not None
    assert compared.compared.changes == [] and compared.compared.roles == {}
    assert compared.compared.commit == git(bare, "rev-parse", "main").strip()


def test_a_file_by_hand_sends_the_backup_through_the_pass(tmp_path: Path) -> None:
    bare = init_bare(tmp_path / "r.git")
    run(bare, rich(), backup_id="b1")
    commit_by_hand(bare, tmp_path / "hand", f"{ROOT}/namespaces/team/configmaps/c0.yaml", b"x\n")
    outcome = run(bare, rich(), backup_id="b2")
    assert not outcome.plan.unchanged and outcome.plan.decoded == 1
    assert outcome.commit.changed == 1


def test_a_foreign_file_is_kept_and_counted_and_the_next_backup_skips_the_pass_again(
    tmp_path: Path,
) -> None:
    notes = f"{ROOT}/NOTES.md"
    third: dict[bool, generation.Outcome] = {}
    for shortcut in (True, False):
        bare = init_bare(tmp_path / f"{shortcut}.git")
        with pytest.MonkeyPatch.context() as patch:
            if not shortcut:
                patch.setattr(reading.MemberPass, "unchanged", lambda self, links=(): False)
            run(bare, rich(), backup_id="b1")
            commit_by_hand(bare, tmp_path / f"hand-{shortcut}", notes, b"ours\n")
            second = run(bare, rich(), backup_id="b2")
            assert not second.plan.unchanged  # the folder is not the one the commit left
            assert second.plan.kept_foreign == 1 and second.plan.decoded == 0
            third[shortcut] = run(bare, rich(), backup_id="b3")
        assert notes in git(bare, "ls-tree", "-r", "--name-only", "main")
    assert third[True].plan.unchanged and not third[False].plan.unchanged
    assert figures(third[True]) == figures(third[False])
    fast, slow = tmp_path / "True.git", tmp_path / "False.git"
    assert folder_tree(fast) == folder_tree(slow)
    assert message(fast) == message(slow)


def test_the_same_members_in_another_order_go_through_the_pass(tmp_path: Path) -> None:
    bare = init_bare(tmp_path / "r.git")
    items = rich()
    run(bare, items, backup_id="b1")
    cache_before = git(bare, "rev-parse", f"main:{CACHE}")
    turned = run(bare, list(reversed(items)), backup_id="b2")
    assert not turned.plan.unchanged and turned.plan.decoded == 0
    assert git(bare, "rev-parse", f"main:{CACHE}") != cache_before  # says the new order
    again = run(bare, list(reversed(items)), backup_id="b3")
    assert again.plan.unchanged


def test_other_settings_go_through_the_pass(tmp_path: Path) -> None:
    bare = init_bare(tmp_path / "r.git")
    run(bare, rich(), backup_id="b1")
    strict = CleaningPolicy(exclude_namespaces=["team"])
    outcome = run(bare, rich(), backup_id="b2", policy=strict)
    assert not outcome.plan.unchanged and outcome.plan.objects == 0


def header_with(bare: Path, work: Path, change: Any) -> None:
    """Commit the cache again by hand, its header's ``whole`` changed by ``change``."""
    text = git(bare, "show", f"main:{CACHE}")
    first, _, rest = text.partition("\n")
    header = json.loads(first)
    change(header)
    commit_by_hand(bare, work, CACHE, (json.dumps(header) + "\n" + rest).encode())


@pytest.mark.parametrize(
    "change",
    [
        lambda h: h.pop("whole"),  # a cache written before the header said it
        lambda h: h["whole"]["figures"].pop("objects"),
        lambda h: h["whole"]["figures"].update(kinds=[["ConfigMap", "team"]]),
        lambda h: h["whole"]["figures"].update(objects=-1),
        lambda h: h["whole"].update(figures=[]),
        lambda h: h["whole"].update(members=7),
    ],
    ids=[
        "absent",
        "a-figure-missing",
        "a-kind-row-short",
        "a-negative-count",
        "no-dict",
        "no-text",
    ],
)
def test_a_header_that_says_nothing_usable_means_the_pass(tmp_path: Path, change: Any) -> None:
    bare = init_bare(tmp_path / "r.git")
    first = run(bare, rich(), backup_id="b1")
    header_with(bare, tmp_path / "hand", change)
    outcome = run(bare, rich(), backup_id="b2")
    assert not outcome.plan.unchanged and outcome.plan.decoded == 0
    assert figures(outcome) == figures(first)
    fresh = init_bare(tmp_path / "fresh.git")
    run(fresh, rich(), backup_id="b2")
    assert folder_tree(bare) == folder_tree(fresh)  # the cache written whole again
    assert run(bare, rich(), backup_id="b3").plan.unchanged


def test_records_that_do_not_read_under_a_good_header_mean_every_member_decoded(
    tmp_path: Path,
) -> None:
    """The header alone is read first (what an unchanged backup needs); a backup that goes
    through the pass reads the records, and records that do not read are no cache."""
    bare = init_bare(tmp_path / "r.git")
    items = rich()
    run(bare, items, backup_id="b1")
    header = git(bare, "show", f"main:{CACHE}").partition("\n")[0]
    commit_by_hand(bare, tmp_path / "hand", CACHE, f"{header}\nnot a record\n".encode())
    changed = [*items[:-2], configmap("c3", "edited"), items[-1]]
    outcome = run(bare, changed, backup_id="b2")
    assert not outcome.plan.unchanged and outcome.plan.decoded == len(items)
    fresh = init_bare(tmp_path / "fresh.git")
    run(fresh, changed, backup_id="b2")
    assert folder_tree(bare) == folder_tree(fresh)


def test_the_cli_says_how_much_of_a_backup_it_decoded(tmp_path: Path) -> None:
    """``generate``'s report: every member decoded the first time, none the second, and the
    second was the committed backup again."""
    backup = tmp_path / "backup.tar.gz"
    backup.write_bytes(tarball(rich()))
    bare = init_bare(tmp_path / "r.git")
    first = generate_report(tmp_path, backup, bare, "--backup-id", "b1")
    again = generate_report(tmp_path, backup, bare, "--backup-id", "b2")
    assert (first["decoded"], first["unchanged"]) == (len(rich()), False)
    assert (again["decoded"], again["unchanged"]) == (0, True)
    assert again["objects"] == first["objects"] and not again["noop"]


def test_the_same_backup_again_lists_no_file_of_its_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The folder is checked by its tree ids (``Tip.unsealed``: one ``ls-tree`` of the folder
    and of ``.backup2gitops/``), not by a listing of every file below it; the header is read
    by the change set's own fast-import. Six git commands in all, whatever the folder holds."""
    bare = init_bare(tmp_path / "remote.git")
    run(bare, rich(), backup_id="b1")
    trace = tmp_path / "trace.json"
    monkeypatch.setenv("GIT_TRACE2_EVENT", str(trace))
    again = run(bare, rich(), backup_id="b2")
    monkeypatch.delenv("GIT_TRACE2_EVENT")
    assert again.plan.unchanged
    commands = traced_argv(trace)
    assert [argv[0] for argv in commands] == [
        "rev-parse",
        "fetch",
        "log",
        "fast-import",
        "ls-tree",
        "push",
    ]
    (listing,) = (argv for argv in commands if argv[0] == "ls-tree")
    assert "-r" not in listing and listing[-2:] == [f"{ROOT}/", f"{ROOT}/.backup2gitops/"]
