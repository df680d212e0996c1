"""worktree.sync_folder: only what changed is written, nothing outside the folder ever is."""

from __future__ import annotations

import subprocess
from pathlib import Path, PurePosixPath

import pytest

from backup2gitops.adapters.worktree import UnsafePath, blob_id, sync_folder

ROOT = PurePosixPath("clusters/prod")


def p(path: str) -> PurePosixPath:
    return PurePosixPath(f"clusters/prod/{path}")


def test_blob_id_is_gits(tmp_path: Path) -> None:
    content = b"apiVersion: v1\nkind: ConfigMap\n"
    (tmp_path / "f").write_bytes(content)
    out = subprocess.run(
        ["git", "hash-object", str(tmp_path / "f")], capture_output=True, text=True, check=True
    )
    assert blob_id(content) == out.stdout.strip()


def test_only_new_and_changed_files_are_written_and_gone_ones_removed(tmp_path: Path) -> None:
    same, edited, gone = b"same\n", b"new value\n", b"gone\n"
    for path, content in (
        ("a/same.yaml", same),
        ("a/edited.yaml", b"old\n"),
        ("b/c/gone.yaml", gone),
    ):
        (tmp_path / p(path)).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / p(path)).write_bytes(content)
    # The index says same.yaml holds "same\n"; the disk is made to differ, to see it is not written.
    (tmp_path / p("a/same.yaml")).write_bytes(b"not rewritten\n")
    tracked = {
        str(p("a/same.yaml")): blob_id(same),
        str(p("a/edited.yaml")): blob_id(b"old\n"),
        str(p("b/c/gone.yaml")): blob_id(gone),
    }
    files = [
        (p("a/same.yaml"), same),
        (p("a/edited.yaml"), edited),
        (p("n/added.yaml"), b"added\n"),
        (p("kustomization.yaml"), b"k\n"),
    ]

    change = sync_folder(base=tmp_path, root=ROOT, files=files, tracked=tracked)

    assert (change.added, change.changed, change.removed) == (1, 1, 1)
    assert change.written == 4  # edited, added, the kustomization, and the removal
    assert (tmp_path / p("a/same.yaml")).read_bytes() == b"not rewritten\n"
    assert (tmp_path / p("a/edited.yaml")).read_bytes() == edited
    assert (tmp_path / p("n/added.yaml")).read_bytes() == b"added\n"
    assert not (tmp_path / p("b")).exists()  # emptied folders go, up to the cluster folder
    assert (tmp_path / ROOT).is_dir()


def test_nothing_changed_writes_nothing(tmp_path: Path) -> None:
    tracked = {str(p("a/x.yaml")): blob_id(b"x\n")}
    change = sync_folder(base=tmp_path, root=ROOT, files=[(p("a/x.yaml"), b"x\n")], tracked=tracked)
    assert change.written == 0
    assert not (tmp_path / "clusters").exists()


@pytest.mark.parametrize(
    "path", ["clusters/other/x.yaml", "clusters/prod/../other/x.yaml", "x.yaml"]
)
def test_paths_outside_the_folder_are_refused(tmp_path: Path, path: str) -> None:
    with pytest.raises(UnsafePath):
        sync_folder(base=tmp_path, root=ROOT, files=[(PurePosixPath(path), b"x")], tracked={})


def test_a_symlinked_folder_or_file_cannot_send_a_write_outside(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    base = tmp_path / "work"
    (base / ROOT).mkdir(parents=True)
    (base / p("ns")).symlink_to(outside, target_is_directory=True)
    with pytest.raises(UnsafePath):
        sync_folder(base=base, root=ROOT, files=[(p("ns/x.yaml"), b"x")], tracked={})
    (base / p("real")).mkdir()
    (base / p("real/f.yaml")).symlink_to(outside / "f.yaml")
    with pytest.raises(UnsafePath):
        sync_folder(base=base, root=ROOT, files=[(p("real/f.yaml"), b"x")], tracked={})
    assert list(outside.iterdir()) == []


def test_a_repository_of_the_old_layout_moves_to_units_without_object_changes(
    tmp_path: Path,
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
    for path, content in old.items():
        (tmp_path / p(path)).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / p(path)).write_bytes(content)
    tracked = {str(p(path)): blob_id(content) for path, content in old.items()}
    files = [
        (p("namespaces/shop/configmaps/a.yaml"), obj),
        (p("kustomization.yaml"), b"resources: [namespaces/shop]\n"),
        (p("namespaces/shop/kustomization.yaml"), b"resources: [configmaps/a.yaml]\n"),
        (p("flux/prod.ns.shop.yaml"), b"kind: Kustomization\n"),
        (p("flux/kustomization.yaml"), b"resources: [prod.ns.shop.yaml]\n"),
    ]

    change = sync_folder(base=tmp_path, root=ROOT, files=files, tracked=tracked)

    assert (change.added, change.changed, change.removed) == (0, 0, 0)
    assert change.written == 6  # 2 kustomizations rewritten, 2 removed, 2 entry points
    assert not (tmp_path / p("namespaces/kustomization.yaml")).exists()
    assert not (tmp_path / p("namespaces/shop/configmaps/kustomization.yaml")).exists()
