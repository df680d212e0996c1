"""``adapters.git.trees`` against git itself: ``tree_id`` is what ``git mktree`` makes of the
same entries, and ``unsealed_id`` (from one ``ls-tree``) is the id ``git fast-import`` answers
for the folder once the sealed file is deleted in the middle of a commit (``FastImport._seal``),
and the folder's own id, as ``git rev-parse`` says it."""

from __future__ import annotations

import subprocess
from pathlib import Path, PurePosixPath

import pytest

from backup2gitops.adapters.git.fast_import import FastImport
from backup2gitops.adapters.git.folder_sync import ImportedChange
from backup2gitops.adapters.git.objects import Identity
from backup2gitops.adapters.git.repository import Seal
from backup2gitops.adapters.git.trees import Entry, listed_levels, tree_id, unsealed_id

ENV = {
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_CONFIG_NOSYSTEM": "1",
    "HOME": "/nonexistent",
    "PATH": "/usr/bin:/bin:/usr/local/bin",
}
ROOT = "clusters/c"
SEAL = f"{ROOT}/.backup2gitops/members.cache"


def git(repo: Path, *args: str, stdin: bytes = b"") -> bytes:
    done = subprocess.run(
        ["git", "--git-dir", str(repo), *args],
        input=stdin,
        capture_output=True,
        env=ENV,
        check=True,
        timeout=60,
    )
    return done.stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "repo.git"
    subprocess.run(["git", "init", "-q", "--bare", str(path)], env=ENV, check=True, timeout=60)
    return path


def blob(repo: Path, content: bytes) -> str:
    return git(repo, "hash-object", "-w", "--stdin", stdin=content).decode().strip()


def test_tree_id_is_git_mktree_s_in_git_s_order(repo: Path) -> None:
    # names whose order differs when a folder's name is read with its slash: "a" (a folder)
    # sorts after "a.b" and "a-b", before "a0"; "b" (a file) before "b.c"
    inner = tree_id([Entry(b"100644", b"x", blob(repo, b"x"))])
    git(repo, "mktree", stdin=f"100644 blob {blob(repo, b'x')}\tx\n".encode())
    entries = [
        Entry(b"40000", b"a", inner),
        Entry(b"100644", b"a.b", blob(repo, b"1")),
        Entry(b"100644", b"a-b", blob(repo, b"2")),
        Entry(b"100755", b"a0", blob(repo, b"3")),
        Entry(b"120000", b"b", blob(repo, b"target")),
        Entry(b"100644", b"b.c", blob(repo, b"4")),
        Entry(b"100644", "café".encode(), blob(repo, b"5")),
    ]
    text = "".join(
        f"{e.mode.decode().zfill(6)} {'tree' if e.is_tree else 'blob'} {e.object_id}\t"
        f"{e.name.decode()}\n"
        for e in reversed(entries)  # mktree sorts; so must tree_id
    )
    assert tree_id(entries) == git(repo, "mktree", stdin=text.encode()).decode().strip()
    assert tree_id(entries[::-1]) == tree_id(entries)


def test_the_levels_listed_are_the_folder_and_those_on_the_way_to_the_seal() -> None:
    assert listed_levels(ROOT, SEAL) == [ROOT, f"{ROOT}/.backup2gitops"]
    assert listed_levels(ROOT, f"{ROOT}/seal") == [ROOT]
    assert listed_levels(ROOT, f"{ROOT}/a/b/seal") == [ROOT, f"{ROOT}/a", f"{ROOT}/a/b"]


FOLDERS = {
    "files, shards and the seal": {
        f"{ROOT}/namespaces/n/configmaps/a.yaml": b"a",
        f"{ROOT}/kustomization.yaml": b"k",
        f"{ROOT}/.backup2gitops/members/n.cache": b"records",
        SEAL: b"old header",
        "elsewhere/file.yaml": b"not in the folder",
    },
    "the seal alone in its folder": {f"{ROOT}/x.yaml": b"x", SEAL: b"old header"},
    "no seal yet": {f"{ROOT}/x.yaml": b"x", f"{ROOT}/.backup2gitops/other": b"o"},
    "the seal alone": {SEAL: b"old header"},
    "a file where a folder on the way would be": {f"{ROOT}/.backup2gitops": b"a file"},
}
ROUND_TRIP_MISSES = {"a file where a folder on the way would be"}
"""Writing the seal there replaces that file by a folder: the id read back is not the one the
seal was made from, so the next backup is read in full (a miss costs time, never a wrong
"unchanged"). The generator's shard files replace such a file before the seal anyway."""


def read_back(repo: Path, commit: str) -> str:
    """``commit``'s folder id without the seal, from one ``ls-tree`` of the levels
    ``GitTip.unsealed`` lists; the folder's own id beside it is held to ``git rev-parse``."""
    levels = [f"{level}/" for level in listed_levels(ROOT, SEAL)]
    listing = git(repo, "ls-tree", "-z", "--full-tree", commit, "--", *levels)
    unsealed, whole = unsealed_id(listing, ROOT, SEAL)
    assert whole == git(repo, "rev-parse", f"{commit}:{ROOT}").decode().strip()
    return unsealed


@pytest.mark.parametrize("case", FOLDERS)
def test_unsealed_id_is_fast_import_s_answer(repo: Path, case: str) -> None:
    files = FOLDERS[case]
    importer = FastImport(git_dir=repo)
    change = ImportedChange()
    for path, content in files.items():
        importer.put(change, path, content)
    first = importer.commit(
        ref="refs/heads/main",
        parent=None,
        change=change,
        message="files",
        author=Identity("t", "t@example.com"),
    )
    expected = read_back(repo, first.commit)

    told: list[str] = []

    def header(folder: str) -> bytes:
        told.append(folder)
        return b"sealed with " + folder.encode()

    importer = FastImport(git_dir=repo)
    second = importer.commit(
        ref="refs/heads/main",
        parent=first.commit,
        change=ImportedChange(),
        message="sealed",
        author=Identity("t", "t@example.com"),
        folder=PurePosixPath(ROOT),
        seal=Seal(SEAL, header),
    )
    assert told == [expected]
    assert (
        git(repo, "cat-file", "blob", f"{second.commit}:{SEAL}")
        == b"sealed with " + expected.encode()
    )
    # the sealed commit's folder, without the seal, is the one it was made from
    assert (read_back(repo, second.commit) == expected) is (case not in ROUND_TRIP_MISSES)
    if expected:  # and it is a tree git has: the folder with the seal deleted
        assert git(repo, "cat-file", "-t", expected).strip() == b"tree"
