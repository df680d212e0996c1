"""``GitTip``'s reads on a real repository: a folder's files and its tree id from one
``ls-tree``, and what ``git fast-import`` answers on its own stream."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from backup2gitops.adapters.git.fast_import import Identity
from backup2gitops.adapters.git.process import GitRunner
from backup2gitops.adapters.git.tip import GitTip
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
