"""``core.drift.TipComparison``: the changes a commit makes, from the files it writes (no git)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from backup2gitops.core import kube_yaml
from backup2gitops.core.drift import TipComparison, namespace_of, role_path, watched
from backup2gitops.core.tree_diff import blob_id

ROOT = "clusters/prod"
CM = f"{ROOT}/namespaces/shop/configmaps"
CRB = f"{ROOT}/cluster-scoped/clusterrolebindings.rbac.authorization.k8s.io"
CR = f"{ROOT}/cluster-scoped/clusterroles.rbac.authorization.k8s.io"


def cm(name: str, value: str) -> dict[str, Any]:
    meta = {"name": name, "namespace": "shop"}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"v": value}}


def cluster_role(name: str) -> dict[str, Any]:
    rules = [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": name}, "rules": rules}  # fmt: skip


def crb(name: str, role: str) -> dict[str, Any]:
    ref = {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role}
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": name}, "roleRef": ref,
            "subjects": [{"kind": "User", "name": "u"}]}  # fmt: skip


class Tip:
    """A tip's folder: path -> bytes, and the reads asked of it."""

    def __init__(self, files: Mapping[str, dict[str, Any]]) -> None:
        self.files = {path: kube_yaml.dump(obj).encode() for path, obj in files.items()}
        self.reads: list[list[str]] = []

    @property
    def tracked(self) -> dict[str, str]:
        return {path: blob_id(content) for path, content in self.files.items()}

    def read(self, paths: Collection[str]) -> dict[str, bytes]:
        self.reads.append(sorted(paths))
        return {path: self.files[path] for path in paths if path in self.files}


def write(comparison: TipComparison, objects: Mapping[str, dict[str, Any] | None]) -> list[str]:
    """The generator's stream: None keeps the committed file (a member the cache kept)."""
    stream: list[tuple[str, bytes | None]] = []
    for path, obj in objects.items():
        if obj is None:
            stream.append((path, None))
            continue
        content = kube_yaml.dump(obj).encode()
        comparison.placed(path, obj, blob_id(content))
        stream.append((path, content))
    stream.append((f"{ROOT}/kustomization.yaml", b"resources: []\n"))
    return [path for path, _ in comparison.seen(stream)]


def test_only_changed_added_and_removed_watched_objects_are_compared() -> None:
    tip = Tip({f"{CM}/same.yaml": cm("same", "1"), f"{CM}/kept.yaml": cm("kept", "1"),
               f"{CM}/edited.yaml": cm("edited", "1"), f"{CM}/gone.yaml": cm("gone", "1"),
               f"{ROOT}/namespaces/shop/services/svc.yaml": {"kind": "Service"}})  # fmt: skip
    comparison = TipComparison(root=ROOT, tracked=tip.tracked)
    write(comparison, {
        f"{CM}/same.yaml": cm("same", "1"),  # decoded again, same bytes
        f"{CM}/kept.yaml": None,  # the member cache kept it
        f"{CM}/edited.yaml": cm("edited", "2"),
        f"{CM}/new.yaml": cm("new", "1"),
    })  # fmt: skip
    changes, roles = comparison.finish(read=tip.read, keep=(), cluster="prod")
    found = {(c.name, c.before is not None, c.after is not None) for c in changes}
    assert found == {("edited", True, True), ("new", False, True), ("gone", True, False)}
    assert roles == {}
    # one read, of the two committed files a rule compares (not the Service's: no rule reads it)
    assert tip.reads == [[f"{CM}/edited.yaml", f"{CM}/gone.yaml"]]
    edited = next(c for c in changes if c.name == "edited")
    assert edited.before == cm("edited", "1") and edited.after == cm("edited", "2")


def test_kept_foreign_files_are_not_removals_and_nothing_changed_reads_nothing() -> None:
    tip = Tip({f"{CM}/hand.yaml": cm("hand", "1"), f"{CM}/a.yaml": cm("a", "1")})
    comparison = TipComparison(root=ROOT, tracked=tip.tracked)
    write(comparison, {f"{CM}/a.yaml": None})
    assert comparison.finish(read=tip.read, keep={f"{CM}/hand.yaml"}, cluster="prod") == ([], {})
    assert tip.reads == []


def test_roles_come_from_the_plan_the_tip_or_nowhere() -> None:
    tip = Tip({f"{CR}/kept.yaml": cluster_role("kept"), f"{CR}/gone.yaml": cluster_role("gone"),
               f"{CR}/hand.yaml": cluster_role("hand")})  # fmt: skip
    comparison = TipComparison(root=ROOT, tracked=tip.tracked)
    rewritten = cluster_role("new") | {"rules": []}
    write(comparison, {
        f"{CR}/kept.yaml": None,
        f"{CR}/new.yaml": rewritten,
        **{f"{CRB}/{n}.yaml": crb(n, n) for n in ("kept", "gone", "hand", "new", "nobody")},
    })  # fmt: skip
    changes, roles = comparison.finish(read=tip.read, keep={f"{CR}/hand.yaml"}, cluster="prod")
    assert roles == {
        ("ClusterRole", None, "kept"): cluster_role("kept"),  # from the tip
        ("ClusterRole", None, "hand"): cluster_role("hand"),  # foreign, kept: from the tip
        ("ClusterRole", None, "new"): rewritten,  # as planned, not read
    }  # "gone" is removed by this very commit, "nobody" was never there
    assert tip.reads == [[f"{CR}/gone.yaml", f"{CR}/hand.yaml", f"{CR}/kept.yaml"]]
    assert {c.name for c in changes if c.after is None} == {"gone"}


def test_the_shared_predicates() -> None:
    assert watched(f"{CM}/a.yaml") and watched(f"{CRB}/b.yaml")
    assert not watched(f"{CM}/kustomization.yaml") and not watched(f"{CM}/a.yml")
    assert not watched(f"{ROOT}/namespaces/shop/secrets/s.yaml")
    assert namespace_of(f"{CM}/a.yaml", ROOT) == "shop"
    assert namespace_of(f"{CRB}/b.yaml", ROOT) is None
    assert role_path(("Role", "shop", "r"), cluster="prod") == (
        f"{ROOT}/namespaces/shop/roles.rbac.authorization.k8s.io/r.yaml"
    )
    assert role_path(("ClusterRole", None, "../x"), cluster="prod") is None
