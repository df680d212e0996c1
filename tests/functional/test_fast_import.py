"""fast_import: a folder of a branch made to hold a stream of files, by git fast-import alone.

Real git: the commit is read back with ``git ls-tree`` / ``git cat-file``.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path, PurePosixPath

import pytest

from backup2gitops.adapters.git import GitError, folder_sync
from backup2gitops.adapters.git.fast_import import ASKED_AT_ONCE, FastImport
from backup2gitops.adapters.git.folder_sync import sync_folder
from backup2gitops.adapters.git.objects import Identity, blob_id, cleaned_message
from backup2gitops.adapters.git.process import GitRunner
from tests.git_repos import bare_repository
from tests.git_repos import git_dir_output as git

ROOT = PurePosixPath("clusters/prod")
WHO = Identity("t", "t@e.org")


def p(path: str) -> str:
    """A path of the folder, as the stream gives it: a POSIX string from the repository's root."""
    return f"clusters/prod/{path}"


def tree(repo: Path, ref: str = "refs/heads/main") -> dict[str, str]:
    out = git(repo, "ls-tree", "-r", "-z", ref)
    entries = (entry.partition("\t") for entry in out.split("\0") if entry)
    return {path: meta.split(" ")[2] for meta, _, path in entries}


def commit(repo: Path, files: list[tuple[str, bytes]], *, parent: str | None) -> str:
    importer = FastImport(git_dir=repo)
    tracked = {k: v for k, v in tree(repo).items() if k.startswith("clusters/")} if parent else {}
    change = sync_folder(importer.put, root=ROOT, files=files, tracked=tracked)
    importer.commit(ref="refs/heads/main", parent=parent, change=change, message="m", author=WHO)
    return git(repo, "rev-parse", "refs/heads/main").strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    bare_repository(tmp_path)
    return tmp_path


def test_blob_id_is_gits(tmp_path: Path) -> None:
    content = b"apiVersion: v1\nkind: ConfigMap\n"
    (tmp_path / "f").write_bytes(content)
    out = subprocess.run(
        ["git", "hash-object", str(tmp_path / "f")], capture_output=True, text=True, check=True
    )
    assert blob_id(content) == out.stdout.strip()


def test_only_new_and_changed_files_are_sent_and_gone_ones_removed(repo: Path) -> None:
    first = commit(
        repo,
        [(p("a/same.yaml"), b"same\n"), (p("a/edited.yaml"), b"old\n"), (p("b/c/gone.yaml"), b"g")],
        parent=None,
    )
    importer = FastImport(git_dir=repo)
    files = [
        (p("a/same.yaml"), b"same\n"),
        (p("a/edited.yaml"), b"new value\n"),
        (p("n/added.yaml"), b"added\n"),
        (p("kustomization.yaml"), b"k\n"),
    ]
    change = sync_folder(importer.put, root=ROOT, files=files, tracked=tree(repo))

    assert (change.added, change.changed, change.removed) == (1, 1, 1)
    assert change.written == 4  # edited, added, the kustomization, and the removal
    assert not any(b"same.yaml" in op for op in change.operations)  # unchanged: not sent
    importer.commit(ref="refs/heads/main", parent=first, change=change, message="m", author=WHO)
    after = tree(repo)
    assert set(after) == {str(path) for path, _ in files}  # the emptied folder b/ is gone
    assert git(repo, "cat-file", "blob", after[p("a/edited.yaml")]) == "new value\n"
    assert git(repo, "rev-parse", "refs/heads/main^").strip() == first


def test_nothing_changed_sends_nothing_and_an_empty_commit_keeps_the_tree(repo: Path) -> None:
    first = commit(repo, [(p("a/x.yaml"), b"x\n")], parent=None)
    importer = FastImport(git_dir=repo)
    change = sync_folder(
        importer.put, root=ROOT, files=[(p("a/x.yaml"), b"x\n")], tracked=tree(repo)
    )
    assert change.written == 0
    importer.commit(ref="refs/heads/main", parent=first, change=change, message="m", author=WHO)
    assert git(repo, "rev-parse", "main^{tree}") == git(repo, "rev-parse", f"{first}^{{tree}}")


def test_abandoned_stream_makes_no_commit(repo: Path) -> None:
    first = commit(repo, [(p("a/x.yaml"), b"x\n")], parent=None)
    importer = FastImport(git_dir=repo)
    sync_folder(importer.put, root=ROOT, files=[(p("a/y.yaml"), b"y\n")], tracked=tree(repo))
    importer.abandon()
    assert git(repo, "rev-parse", "refs/heads/main").strip() == first
    assert git(repo, "for-each-ref").count("\n") == 1


@pytest.mark.parametrize(
    "path",
    [
        "clusters/other/x.yaml",
        "clusters/prod/../other/x.yaml",
        "x.yaml",
        'clusters/prod/a/"q.yaml',
        "clusters/prod/a/new\nline.yaml",
    ],
)
def test_paths_outside_the_folder_or_misread_by_fast_import_are_refused(
    repo: Path, path: str
) -> None:
    importer = FastImport(git_dir=repo)
    with pytest.raises(GitError):
        sync_folder(importer.put, root=ROOT, files=[(path, b"x")], tracked={})
    importer.abandon()


def test_a_file_at_or_through_a_committed_symlink_is_refused(repo: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    target = git(repo, "hash-object", "-w", "--stdin", stdin=str(outside)).strip()
    sub = git(repo, "mktree", stdin=f"120000 blob {target}\tns\n").strip()
    clusters = git(repo, "mktree", stdin=f"040000 tree {sub}\tprod\n").strip()
    root = git(repo, "mktree", stdin=f"040000 tree {clusters}\tclusters\n").strip()
    first = git(repo, "commit-tree", root, "-m", "link").strip()
    git(repo, "update-ref", "refs/heads/main", first)

    for path in ("ns/x.yaml", "ns", "ns/deeper/x.yaml"):
        importer = FastImport(git_dir=repo)
        with pytest.raises(GitError):
            sync_folder(
                importer.put,
                root=ROOT,
                files=[(p(path), b"x")],
                tracked=tree(repo),
                links={p("ns")},
            )
        importer.abandon()
    assert git(repo, "rev-parse", "refs/heads/main").strip() == first
    assert list(outside.iterdir()) == []


def test_the_message_is_stored_as_git_commit_stores_it() -> None:
    assert cleaned_message("\n\ntitle  \n\n\n\nbody\t\n  indented\n\n") == (
        "title\n\nbody\n  indented\n"
    )


def test_a_repository_of_the_old_layout_moves_to_units_without_object_changes(
    repo: Path,
) -> None:
    """Before units every folder had a kustomization; the first commit with units removes the
    per-resource ones and adds entry points, and counts no object as added, changed or removed."""
    obj = b"kind: ConfigMap\n"
    old = {
        "kustomization.yaml": b"resources: [namespaces]\n",
        "namespaces/kustomization.yaml": b"resources: [shop]\n",
        "namespaces/shop/kustomization.yaml": b"resources: [configmaps]\n",
        "namespaces/shop/configmaps/kustomization.yaml": b"resources: [a.yaml]\n",
        "namespaces/shop/configmaps/a.yaml": obj,
    }
    first = commit(repo, [(p(path), content) for path, content in old.items()], parent=None)
    files = [
        (p("namespaces/shop/configmaps/a.yaml"), obj),
        (p("kustomization.yaml"), b"resources: [namespaces/shop]\n"),
        (p("namespaces/shop/kustomization.yaml"), b"resources: [configmaps/a.yaml]\n"),
        (p("flux/prod.ns.shop.yaml"), b"kind: Kustomization\n"),
        (p("flux/kustomization.yaml"), b"resources: [prod.ns.shop.yaml]\n"),
    ]
    importer = FastImport(git_dir=repo)
    change = sync_folder(importer.put, root=ROOT, files=files, tracked=tree(repo))
    importer.commit(ref="refs/heads/main", parent=first, change=change, message="m", author=WHO)

    assert (change.added, change.changed, change.removed) == (0, 0, 0)
    assert change.written == 6  # 2 kustomizations rewritten, 2 removed, 2 entry points
    assert sorted(tree(repo)) == sorted(str(path) for path, _ in files)


def test_an_answer_that_never_comes_is_a_retryable_failure_at_the_deadline(repo: Path) -> None:
    content = b"kept\n"
    commit(repo, [(p("a.yaml"), content)], parent=None)
    # stopped at once: alive and silent for ever, so no machine is slow or fast enough for the
    # one-second deadline to decide anything but "no answer"
    importer = FastImport(git_dir=repo, runner=GitRunner(timeout_s=1.0))
    process = importer._process
    os.kill(process.pid, signal.SIGSTOP)

    with pytest.raises(GitError) as raised:
        importer.cat_blobs([blob_id(content)])

    assert raised.value.code == "git_unavailable" and raised.value.retryable
    assert process.returncode is not None  # its group killed and reaped, not left stopped
    importer.abandon()  # ending it again is harmless


def test_a_missing_blob_is_none_and_the_import_goes_on(repo: Path) -> None:
    first = commit(repo, [(p("a.yaml"), b"a\n")], parent=None)
    importer = FastImport(git_dir=repo)

    assert importer.cat_blobs([blob_id(b"never stored\n")]) == {}
    change = sync_folder(importer.put, root=ROOT, files=[(p("b.yaml"), b"b\n")], tracked=tree(repo))
    made = importer.commit(
        ref="refs/heads/main", parent=first, change=change, message="m", author=WHO, folder=ROOT
    )

    assert made.commit == git(repo, "rev-parse", "refs/heads/main").strip()
    assert made.tree == git(repo, "rev-parse", "refs/heads/main:clusters/prod").strip()


def test_many_blobs_are_read_in_rounds_larger_answers_than_a_pipe_holds(repo: Path) -> None:
    """More blobs than one round asks (``ASKED_AT_ONCE``), each answer larger than a pipe's
    buffer in all, some missing: every one comes back whole, in one call."""
    files = [(p(f"c{i}.yaml"), b"%d\n" % i + b"x" * 700) for i in range(ASKED_AT_ONCE * 2 + 7)]
    commit(repo, files, parent=None)
    importer = FastImport(git_dir=repo)
    wanted = [blob_id(content) for _, content in files]
    missing = [blob_id(b"never stored %d\n" % i) for i in range(3)]

    got = importer.cat_blobs([*wanted[:300], *missing, *wanted[300:]])

    assert got == {blob_id(content): content for _, content in files}
    importer.abandon()


# sync_folder checks a folder's first path whole and the next ones by their name alone
# (``_plain_name``); both must refuse what the whole check refuses of each path on its own.
SYNC_FOLDERS = [
    "clusters/prod/a",
    "clusters/prod/a/b",
    "clusters/prod",
    "clusters/prod/",
    "clusters",
    "",
    "clusters/prod/../other",
    "clusters/prod/./a",
    "clusters/prod//a",
    "/clusters/prod/a",
    "clusters/production/a",
    "clusters/prod/ln",
    "clusters/prod/ln/under",
    "clusters/prod/a\nb",
    'clusters/prod/"a"',
    "clusters/prod/a\tb",
]
SYNC_NAMES = [
    "x.yaml",
    "kustomization.yaml",
    ".hidden",
    "...",
    "..x",
    "",
    ".",
    "..",
    "ln",
    "a\nb.yaml",
    "a\rb.yaml",
    "a\0b.yaml",
    'q".yaml',
    "a\tb.yaml",
    "a b.yaml",
    "é.yaml",
    "a\u2028b.yaml",
]


def test_a_path_is_refused_after_a_good_one_of_its_folder_as_on_its_own(repo: Path) -> None:
    """Every folder and name above, alone and after a path its folder passed with, with a
    symbolic link committed at ``clusters/prod/ln`` and at ``clusters/prod/a/ln``: each path
    passes or is refused (``unsafe_path``, the same message) as the whole check decides."""
    links = {"clusters/prod/ln", "clusters/prod/a/ln"}
    importer = FastImport(git_dir=repo)

    def refusal(paths: list[str]) -> str | None:
        tracked = dict.fromkeys(paths, "0" * 40)  # every file stays as committed: none is sent
        try:
            sync_folder(
                importer.put,
                root=ROOT,
                files=[(path, None) for path in paths],
                tracked=tracked,
                links=links,
            )
        except GitError as exc:
            assert exc.code == "unsafe_path"
            return exc.message
        return None

    try:
        for folder in SYNC_FOLDERS:
            warm = f"{folder}/warm.yaml"
            warmed = refusal([warm]) is None
            for name in SYNC_NAMES:
                path = f"{folder}/{name}"
                alone = refusal([path])
                if warmed:
                    assert refusal([warm, path]) == alone, path
                if folder_sync._plain_name(name) and warmed:
                    assert alone is None or "symbolic link" in alone, path  # the fast pass is
                    # never wider than the whole check
        assert refusal(["clusters/prod/a/warm.yaml", "clusters/prod/a/ln"]) is not None
        assert refusal(["clusters/prod/a/warm.yaml", "clusters/prod/a/.."]) is not None
    finally:
        importer.abandon()
