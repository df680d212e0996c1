"""``GitTip``'s reads on a real repository: a folder's files and its tree id from one
``ls-tree``, and what ``git fast-import`` answers on its own stream."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

import pytest

from backup2gitops.adapters.git.objects import Identity
from backup2gitops.adapters.git.process import GitRunner
from backup2gitops.adapters.git.tip import GitTip
from tests.functional.git_trace import traced_commands
from tests.git_repos import git_in


def repository(path: Path) -> Path:
    """A work tree on ``main`` holding a folder with a file, a subfolder, a symbolic link and
    a file beside the folder."""
    git_in(path.parent, "init", "-q", "--initial-branch=main", path.name)
    (path / "clusters/prod/apps").mkdir(parents=True)
    (path / "clusters/prod/apps/a.yaml").write_text("a: 1\n")
    (path / "clusters/prod/b.yaml").write_text("b: 1\n")
    os.symlink("b.yaml", path / "clusters/prod/link.yaml")
    (path / "clusters/prodless.yaml").write_text("beside\n")
    (path / "README.md").write_text("r\n")
    git_in(path, "add", "-A")
    git_in(path, "-c", "user.name=t", "-c", "user.email=t@e.org", "commit", "-qm", "one")
    return path


def tip_of(work: Path) -> GitTip:
    return GitTip(
        git_dir=work / ".git",
        branch="main",
        runner=GitRunner(),
        author=Identity("t", "t@example.com"),
        push=lambda branch: None,
    )


def test_a_folder_is_listed_with_its_own_tree_id(tmp_path: Path) -> None:
    work = repository(tmp_path / "w")
    tip = tip_of(work)

    folder = tip.folder(PurePosixPath("clusters/prod"))

    assert folder.tree == git_in(work, "rev-parse", "HEAD:clusters/prod").strip()
    assert folder.files == {
        path: git_in(work, "rev-parse", f"HEAD:{path}").strip()
        for path in ("clusters/prod/apps/a.yaml", "clusters/prod/b.yaml", "clusters/prod/link.yaml")
    }
    assert folder.links == {"clusters/prod/link.yaml"}
    assert tip.tree(PurePosixPath("clusters/prod")) == folder.tree


def test_an_absent_folder_has_no_tree(tmp_path: Path) -> None:
    tip = tip_of(repository(tmp_path / "w"))

    assert tip.folder(PurePosixPath("clusters/staging")).tree is None
    assert tip.folder(PurePosixPath("clusters/prod/b.yaml/x")).tree is None


def test_the_whole_tree_is_a_folder_too(tmp_path: Path) -> None:
    work = repository(tmp_path / "w")

    folder = tip_of(work).folder(PurePosixPath("."))

    assert folder.tree == git_in(work, "rev-parse", "HEAD^{tree}").strip()
    assert set(folder.files) == {
        "README.md",
        "clusters/prodless.yaml",
        "clusters/prod/apps/a.yaml",
        "clusters/prod/b.yaml",
        "clusters/prod/link.yaml",
    }


def test_a_commit_says_its_id_and_its_folders_tree_on_the_import_stream(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = repository(tmp_path / "w")
    tip = tip_of(work)
    root = PurePosixPath("clusters/prod")
    trace = tmp_path / "trace.json"
    monkeypatch.setenv("GIT_TRACE2_EVENT", str(trace))

    with tip.change(root) as change:
        assert change.committed(root / "b.yaml") == b"b: 1\n"
        assert change.committed_files(["clusters/prod/apps/a.yaml", "clusters/prod/no.yaml"]) == {
            "clusters/prod/apps/a.yaml": b"a: 1\n"
        }
        change.sync([("clusters/prod/b.yaml", b"b: 2\n"), ("clusters/prod/c.yaml", b"c\n")])
        made = change.commit("two")
    tree = tip.tree(root, made)

    assert sorted(traced_commands(trace)) == ["fast-import", "ls-tree"]  # no cat-file, no rev-parse
    monkeypatch.delenv("GIT_TRACE2_EVENT")
    assert made == git_in(work, "rev-parse", "main").strip()
    assert tree == git_in(work, "rev-parse", "main:clusters/prod").strip()
    assert git_in(work, "show", "main:clusters/prod/c.yaml") == "c\n"
    assert git_in(work, "log", "--format=%s", "main") == "two\none\n"


def test_a_folder_removed_by_its_commit_has_no_tree(tmp_path: Path) -> None:
    work = repository(tmp_path / "w")
    tip = tip_of(work)
    root = PurePosixPath("clusters/prod")

    with tip.change(root) as change:
        change.sync([])
        made = change.commit("gone")

    assert tip.tree(root, made) is None
    assert made == git_in(work, "rev-parse", "main").strip()
    assert git_in(work, "ls-tree", "--name-only", "main", "clusters/") == "clusters/prodless.yaml\n"


def test_a_reapplied_folder_says_its_commit_and_tree(tmp_path: Path) -> None:
    work = repository(tmp_path / "w")
    tip = tip_of(work)
    root, whole = PurePosixPath("clusters/prod"), PurePosixPath(".")
    apps = git_in(work, "rev-parse", "main:clusters/prod/apps").strip()

    made = tip.reapply(root, tree=apps, message="again")

    assert made == git_in(work, "rev-parse", "main").strip()
    assert tip.tree(root, made) == apps
    assert tip.tree(whole, made) == git_in(work, "rev-parse", "main^{tree}").strip()


def test_a_submodule_in_the_folder_is_never_read_as_a_file(tmp_path: Path) -> None:
    work = repository(tmp_path / "w")
    commit = git_in(work, "rev-parse", "HEAD").strip()
    git_in(work, "update-index", "--add", "--cacheinfo", f"160000,{commit},clusters/prod/sub")
    git_in(work, "-c", "user.name=t", "-c", "user.email=t@e.org", "commit", "-qm", "sub")
    tip = tip_of(work)
    root = PurePosixPath("clusters/prod")

    with tip.change(root) as change:
        got = change.committed_files(["clusters/prod/sub", "clusters/prod/b.yaml"])
        assert got == {"clusters/prod/b.yaml": b"b: 1\n"}  # fast-import still running
        change.sync([("clusters/prod/b.yaml", b"b: 1\n")], keep=["clusters/prod/sub"])
        made = change.commit("kept")

    assert made == git_in(work, "rev-parse", "main").strip()
