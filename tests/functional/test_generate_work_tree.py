"""``generate --repo DIR``: a local work tree (or a new folder) is committed in, with no remote
and no push, as an export tool writes; a bare repository or a URL is pushed to as before. Real
git, the CLI in a subprocess."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.fixtures.native import native_backup
from tests.functional.generate_cli import generate_report
from tests.functional.test_cli_errors import cli, one_line_error
from tests.git_repos import bare_repository, git_in


def write_archive(tmp_path: Path, backup_id: str, *, objects: int = 3) -> Path:
    archive = tmp_path / "bucket" / backup_id / "resources.tar.gz"
    archive.parent.mkdir(parents=True)
    archive.write_bytes(native_backup(backup_id=backup_id, objects=objects).archive)
    return archive


def test_a_new_folder_becomes_a_work_tree_with_the_commit_and_no_remote(tmp_path: Path) -> None:
    export = tmp_path / "export"
    report = generate_report(tmp_path, write_archive(tmp_path, "20261123t020000z"), export)
    assert report["added"] == 3 and report["branch"] == "main"
    assert git_in(export, "rev-parse", "HEAD").strip() == report["commit"]
    assert git_in(export, "remote").strip() == ""  # nothing to push to, nothing pushed
    assert git_in(export, "status", "--porcelain") == ""  # the files are checked out, committed
    assert (export / "clusters/prod/namespaces/default/configmaps/cm-0.yaml").is_file()
    assert "Backup-Id: 20261123t020000z" in git_in(export, "log", "-1", "--format=%B")

    again = generate_report(
        tmp_path, write_archive(tmp_path, "20261124t020000z", objects=2), export
    )
    assert (again["removed"], again["noop"]) == (1, False)
    assert len(git_in(export, "rev-list", "HEAD").split()) == 2
    assert not (export / "clusters/prod/namespaces/default/configmaps/cm-2.yaml").exists()


def test_an_existing_work_tree_gets_a_commit_on_its_branch_and_keeps_its_files(
    tmp_path: Path,
) -> None:
    tree = tmp_path / "gitops"
    subprocess.run(["git", "init", "-q", "--initial-branch=trunk", str(tree)], check=True)
    (tree / "README.md").write_text("ours\n")
    (tree / "notes.txt").write_text("untracked, outside clusters/\n")
    git_in(tree, "add", "README.md")
    git_in(tree, "-c", "user.name=u", "-c", "user.email=u@e", "commit", "-qm", "start")
    report = generate_report(tmp_path, write_archive(tmp_path, "20261123t020000z"), tree)
    assert report["branch"] == "trunk"
    assert git_in(tree, "log", "--format=%s").splitlines()[1] == "start"
    assert (tree / "README.md").read_text() == "ours\n"
    assert git_in(tree, "status", "--porcelain") == "?? notes.txt\n"


def test_a_work_tree_with_uncommitted_changes_is_refused_and_left_as_it_was(
    tmp_path: Path,
) -> None:
    tree = tmp_path / "gitops"
    generate_report(tmp_path, write_archive(tmp_path, "20261123t020000z"), tree)
    edited = tree / "clusters/prod/namespaces/default/configmaps/cm-0.yaml"
    edited.write_text("edited by hand\n")
    head = git_in(tree, "rev-parse", "HEAD")
    archive = write_archive(tmp_path, "20261124t020000z", objects=1)
    result = cli(tmp_path, "generate", str(archive), "--repo", str(tree), "--cluster", "prod")
    assert "uncommitted changes" in one_line_error(result, 1)
    assert git_in(tree, "rev-parse", "HEAD") == head
    assert edited.read_text() == "edited by hand\n"
    assert git_in(tree, "status", "--porcelain").splitlines() == [
        " M clusters/prod/namespaces/default/configmaps/cm-0.yaml"
    ]


def test_a_refused_backup_puts_the_work_tree_back(tmp_path: Path) -> None:
    """A mass deletion refused after the files were written: the tree is as HEAD has it."""
    tree = tmp_path / "gitops"
    generate_report(tmp_path, write_archive(tmp_path, "20261123t020000z", objects=4), tree)
    head = git_in(tree, "rev-parse", "HEAD")
    archive = write_archive(tmp_path, "20261124t020000z", objects=1)  # 3 of 4 removed
    result = cli(tmp_path, "generate", str(archive), "--repo", str(tree), "--cluster", "prod")
    assert "would remove 3 of the cluster's 4 objects" in one_line_error(result, 1)
    assert git_in(tree, "rev-parse", "HEAD") == head
    assert git_in(tree, "status", "--porcelain") == ""


def test_a_branch_other_than_the_checked_out_one_is_refused(tmp_path: Path) -> None:
    tree = tmp_path / "gitops"
    generate_report(tmp_path, write_archive(tmp_path, "20261123t020000z"), tree)
    archive = tmp_path / "bucket/20261123t020000z/resources.tar.gz"
    args = ("generate", str(archive), "--repo", str(tree), "--cluster", "prod", "--branch", "x")
    assert "has 'main' checked out, not 'x'" in one_line_error(cli(tmp_path, *args), 1)


def test_a_bare_repository_and_a_new_dot_git_path_are_pushed_to(tmp_path: Path) -> None:
    bare = bare_repository(tmp_path / "existing.git")
    archive = write_archive(tmp_path, "20261123t020000z")
    for remote in (bare, tmp_path / "new.git"):
        report = generate_report(tmp_path, archive, remote)
        assert git_in(remote, "rev-parse", "main").strip() == report["commit"]
        assert git_in(remote, "rev-parse", "--is-bare-repository").strip() == "true"


def test_a_folder_that_is_neither_a_work_tree_nor_empty_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "stuff"
    folder.mkdir()
    (folder / "file").write_text("x")
    archive = write_archive(tmp_path, "20261123t020000z")
    result = cli(tmp_path, "generate", str(archive), "--repo", str(folder), "--cluster", "prod")
    assert "neither a git work tree nor empty" in one_line_error(result, 1)


def test_a_backup_folder_without_a_manifest_is_named_by_the_folder(tmp_path: Path) -> None:
    """``generate <bucket>/<id>/`` (the folder, only the tarball in it): the id is its name."""
    archive = write_archive(tmp_path, "20261125t020000z")
    report = generate_report(tmp_path, archive.parent, tmp_path / "r.git")
    assert report["backup_id"] == "20261125t020000z"


def test_a_linked_work_tree_is_committed_in_on_its_own_branch(tmp_path: Path) -> None:
    """``git worktree add``: its ``.git`` is a file, the lock lives in its own git dir."""
    main_tree = tmp_path / "main"
    subprocess.run(["git", "init", "-q", "--initial-branch=main", str(main_tree)], check=True)
    git_in(
        main_tree,
        "-c",
        "user.name=u",
        "-c",
        "user.email=u@e",
        "commit",
        "-q",
        "--allow-empty",
        "-m",
        "init",
    )
    linked = tmp_path / "linked"
    git_in(main_tree, "worktree", "add", "-q", "-b", "side", str(linked))
    report = generate_report(tmp_path, write_archive(tmp_path, "20261123t020000z"), linked)
    assert report["branch"] == "side"
    assert git_in(main_tree, "rev-parse", "side").strip() == report["commit"]
    assert git_in(main_tree, "rev-list", "--count", "main").strip() == "1"
