"""Legal names that used to break a checkout or refuse a whole backup (issue 22, items 5 and 10).

Before: a Role named with 251+ ASCII characters, or 120 CJK ones, was committed as a file name
over Linux's 255 bytes and every ``git clone`` failed ("File name too long"); Roles
``kustomization`` and ``_kustomization`` refused the whole backup for ever (``path_collision``);
a folder named ``kustomization.yaml`` was replaced by the kustomization file written after it;
``Admin`` and ``admin`` were one file on a case-insensitive checkout. Now each gets a file name
that fits and collides with nothing (``repo_layout.segment_file_name``), and a real ``git clone``
checks them all out.
"""

from __future__ import annotations

import io
import subprocess
import unicodedata
from pathlib import Path
from typing import Any, BinaryIO, cast

import pytest

from backup2gitops import generation
from backup2gitops.core.archive import ArchiveWriter
from backup2gitops.core.cleaning import CleaningPolicy
from backup2gitops.core.repo_layout import MAX_FILE_NAME_BYTES, object_path, segment_file_name
from tests.git_repos import bare_repository, git_remote

KUSTOMIZE = Path("/root/go/bin/kustomize")
HOSTILE_NAMES = [
    "r" * 250,  # 255 bytes with .yaml: fits as it is
    "r" * 251,
    "r" * 253,
    "役" * 120,
    "é" * 126,
    "kustomization",
    "_kustomization",
    "Kustomization",
    "kustomization.yaml",
    "kustomization.yml",
    "KUSTOMIZATION.YAML",
    "admin",
    "Admin",
    "ADMIN",
    "system:controller:x",
    "a%b",
    "caf\u00e9",  # NFC
    "cafe\u0301",  # NFD: one name to macOS
]


def checkout_key(path: str) -> str:
    """What a case- and normalisation-insensitive file system (APFS, NTFS) compares."""
    return unicodedata.normalize("NFD", path).casefold()


def test_every_name_gets_a_file_name_that_fits_and_collides_with_none() -> None:
    paths = [
        object_path(
            cluster="c",
            group_resource="roles.rbac.authorization.k8s.io",
            namespace="shop",
            name=name,
        )
        for name in HOSTILE_NAMES
    ]
    assert all(len(p.name.encode()) <= MAX_FILE_NAME_BYTES for p in paths)
    assert len({checkout_key(p.as_posix()) for p in paths}) == len(HOSTILE_NAMES)
    assert not any(p.name.lower() in {"kustomization.yaml", "kustomization.yml"} for p in paths)
    assert paths[0].name == "r" * 250 + ".yaml"
    assert paths[HOSTILE_NAMES.index("admin")].name == "admin.yaml"
    assert paths[HOSTILE_NAMES.index("kustomization")].name == "_kustomization.yaml"  # as before


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_the_file_name_depends_on_the_name_alone(name: str) -> None:
    assert segment_file_name(name, suffix=".yaml") == segment_file_name(name, suffix=".yaml")


def test_folders_named_like_a_kustomization_are_renamed() -> None:
    for value in ("kustomization.yaml", "Kustomization.yml", "kustomization"):
        assert segment_file_name(value).lower() not in {
            "kustomization.yaml",
            "kustomization.yml",
            "kustomization",
        }
    assert segment_file_name("deployments.apps") == "deployments.apps"


def role(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": name, "namespace": "shop"},
        "rules": [],
    }


def hostile_archive() -> tuple[bytes, int]:
    out = io.BytesIO()
    count = 0
    with ArchiveWriter(out) as writer:
        for name in HOSTILE_NAMES:
            writer.add(
                group_resource="roles.rbac.authorization.k8s.io",
                namespace="shop",
                name=name,
                obj=role(name),
            )
            count += 1
        # a custom resource whose folder (plural.group) is "kustomization.yaml"
        writer.add(
            group_resource="kustomization.yaml",
            namespace="shop",
            name="web",
            obj={
                "apiVersion": "yaml/v1",
                "kind": "Kustomization",
                "metadata": {"name": "web", "namespace": "shop"},
                "spec": {"x": 1},
            },
        )
        writer.add(
            group_resource="configmaps",
            namespace="shop",
            name="settings",
            obj={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}},
        )
        count += 2
    return out.getvalue(), count


def committed_and_cloned(tmp_path: Path) -> tuple[Path, int]:
    """The hostile backup generated into a real bare remote, then cloned (and checked out)."""
    bare = bare_repository(tmp_path / "remote.git")
    data, count = hostile_archive()
    outcome = generation.generate(
        archive=lambda: cast("BinaryIO", io.BytesIO(data)),
        remote=git_remote(bare, tmp_path / "cache"),
        cluster="prod",
        backup_id="names",
        policy=CleaningPolicy(),
        claims=generation.Claims(items=count, complete=True),
    )
    assert (outcome.plan.objects, outcome.plan.excluded) == (count, 0)
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(bare), str(clone)], check=True)  # checks out
    return clone, count


def test_a_real_clone_checks_out_every_object(tmp_path: Path) -> None:
    clone, count = committed_and_cloned(tmp_path)
    objects = [
        path
        for path in (clone / "clusters/prod/namespaces/shop").rglob("*.yaml")
        if path.parent.name != "shop"  # the unit's own kustomization.yaml
    ]
    assert len(objects) == count
    names = sorted(
        line.split("name: ", 1)[1].strip().strip("'\"")
        for path in objects
        for line in path.read_text().splitlines()
        if line.startswith("  name: ")
    )
    assert names == sorted([*HOSTILE_NAMES, "web", "settings"])  # full names inside
    relative = [p.relative_to(clone).as_posix() for p in objects]
    assert len({checkout_key(p) for p in relative}) == count
    assert all(len(part.encode()) <= MAX_FILE_NAME_BYTES for p in relative for part in p.split("/"))
    assert (clone / "clusters/prod/namespaces/shop/kustomization.yaml").is_file()


@pytest.mark.skipif(
    not KUSTOMIZE.exists(), reason="kustomize is installed by scripts/install-test-deps.sh"
)
def test_kustomize_builds_every_object_of_the_clone(tmp_path: Path) -> None:
    """The tagged names (``%`` and all) are plain file names to kustomize too."""
    clone, count = committed_and_cloned(tmp_path)
    built = subprocess.run(
        [str(KUSTOMIZE), "build", str(clone / "clusters/prod")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    documents = [doc for doc in built.split("\n---\n") if doc.strip()]
    assert len(documents) == count
