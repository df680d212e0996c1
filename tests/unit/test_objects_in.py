"""generation.decoding.objects_in: the deletion guard's count of the objects a folder holds, by
the generated files' folders and names, held to ``units.is_generated`` path by path."""

from __future__ import annotations

from backup2gitops.core import units
from backup2gitops.generation.decoding import objects_in


def by_paths(files: list[str], foreign: set[str]) -> int:
    return sum(1 for path in files if not units.is_generated(path) and path not in foreign)


def test_the_objects_counted_are_the_ones_is_generated_leaves() -> None:
    root = "clusters/prod"
    files = [
        root,  # a file at the folder's own name
        f"{root}/kustomization.yaml",
        f"{root}/namespaces/team/kustomization.yaml",
        f"{root}/namespaces/team/configmaps/c.yaml",
        f"{root}/namespaces/team/configmaps/kustomization.yaml.bak",
        f"{root}/namespaces/flux/configmaps/c.yaml",
        f"{root}/cluster-scoped/namespaces/team.yaml",
        f"{root}/.backup2gitops/members.cache",
        f"{root}/.backup2gitops/members/team.cache",
        f"{root}/.backup2gitops",
        f"{root}/.backup2gitopsx/a.yaml",
        f"{root}/hand-written.yaml",
        f"{root}/notes/README.md",
    ]
    files += [f"{root}/{folder}/{name}" for folder in units.GENERATED_FOLDERS for name in "ab"]
    files += [f"{root}/{folder}" for folder in units.GENERATED_FOLDERS]
    for foreign in (set(), {f"{root}/hand-written.yaml", f"{root}/notes/README.md"}):
        assert objects_in(files, root, foreign) == by_paths(files, foreign)
    assert objects_in(files, root, set()) == 12
    odd = [f"a/b/{path}" for path in files]  # no cluster's folder: asked path by path
    assert objects_in(odd, "a/b/clusters/prod", set()) == by_paths(odd, set())
