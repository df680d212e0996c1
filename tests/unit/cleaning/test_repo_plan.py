"""plan_tree: a kustomization per unit and one at the root; collisions raise; kustomize builds it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml

from backup2gitops.core import kube_yaml, repo_plan, units
from backup2gitops.core.repo_layout import group_resource_for, has_odd_segment, object_path
from backup2gitops.core.repo_plan import PathCollision, plan_tree

CASES = Path(__file__).parent / "cases"
KUSTOMIZE = Path("/root/go/bin/kustomize")


def placed(cluster: str, obj: dict[str, Any]) -> tuple[PurePosixPath, dict[str, Any]]:
    metadata = obj["metadata"]
    path = object_path(
        cluster=cluster,
        group_resource=group_resource_for(obj["apiVersion"], obj["kind"]),
        namespace=metadata.get("namespace"),
        name=metadata["name"],
    )
    return path, obj


NS = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}
CM = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "shop"}}
DEPLOY = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "a", "namespace": "shop"},
}


def test_each_unit_lists_its_own_files_and_the_root_lists_the_units() -> None:
    tree = plan_tree(cluster="c", objects=[placed("c", o) for o in (CM, NS, DEPLOY)])
    paths = {str(p): yaml.safe_load(content) for p, content in tree.items()}
    resources = {
        p: doc["resources"] for p, doc in paths.items() if p.endswith("kustomization.yaml")
    }
    assert resources == {
        "clusters/c/kustomization.yaml": ["cluster-scoped", "namespaces/shop"],
        "clusters/c/cluster-scoped/kustomization.yaml": ["namespaces/shop.yaml"],
        "clusters/c/namespaces/shop/kustomization.yaml": [
            "configmaps/a.yaml",
            "deployments.apps/a.yaml",
        ],
    }
    root = paths["clusters/c/kustomization.yaml"]
    assert root["apiVersion"] == "kustomize.config.k8s.io/v1beta1"
    assert root["kind"] == "Kustomization"
    assert tree[PurePosixPath("clusters/c/namespaces/shop/configmaps/a.yaml")] == (
        kube_yaml.dump(CM).encode()
    )
    assert list(tree) == sorted(tree)


def test_by_cluster_the_root_is_the_one_unit() -> None:
    tree = plan_tree(
        cluster="c",
        objects=[placed("c", o) for o in (CM, NS, DEPLOY)],
        layout=units.Layout(by="cluster"),
    )
    kustomizations = [str(p) for p in tree if p.name == "kustomization.yaml"]
    assert kustomizations == ["clusters/c/kustomization.yaml"]
    assert yaml.safe_load(tree[PurePosixPath(kustomizations[0])])["resources"] == [
        "cluster-scoped/namespaces/shop.yaml",
        "namespaces/shop/configmaps/a.yaml",
        "namespaces/shop/deployments.apps/a.yaml",
    ]


def test_same_inputs_same_bytes_in_any_order() -> None:
    objects = [placed("c", o) for o in (CM, NS, DEPLOY)]
    assert plan_tree(cluster="c", objects=objects) == plan_tree(
        cluster="c", objects=reversed(objects)
    )


def test_collision_raises() -> None:
    with pytest.raises(PathCollision):
        plan_tree(cluster="c", objects=[placed("c", CM), placed("c", CM)])


def test_object_at_a_kustomization_path_raises() -> None:
    path = PurePosixPath("clusters/c/namespaces/shop/configmaps/kustomization.yaml")
    with pytest.raises(PathCollision):
        plan_tree(cluster="c", objects=[(path, CM)])


@pytest.mark.parametrize(
    "path",
    [
        "clusters/other/namespaces/n/configmaps/a.yaml",
        "clusters/c/a.yaml",
        "clusters/c/namespaces/n/a.yaml",
        "clusters/c/flux/a.yaml",
        "clusters/c/namespaces/../../x/a.yaml",
        "/clusters/c/namespaces/n/configmaps/a.yaml",
        "clusters/c/namespaces/n/configmaps/a.json",
    ],
)
def test_paths_outside_the_cluster_folder_are_rejected(path: str) -> None:
    with pytest.raises(ValueError):
        plan_tree(cluster="c", objects=[(PurePosixPath(path), CM)])


def test_empty_cluster_still_has_a_root_kustomization() -> None:
    tree = plan_tree(cluster="c", objects=[])
    assert list(tree) == [PurePosixPath("clusters/c/kustomization.yaml")]


@pytest.mark.skipif(not KUSTOMIZE.exists(), reason="kustomize binary not installed")
def test_kustomize_builds_the_planned_tree(tmp_path: Path) -> None:
    from backup2gitops.core import cleaning

    policy = cleaning.CleaningPolicy(secrets="redact")
    objects = []
    for case in sorted(CASES.glob("*.input.yaml")):
        for obj in kube_yaml.load_all(case.read_text()):
            prepared = cleaning.prepare(obj, policy=policy)
            if prepared.object is not None:
                objects.append(placed("prod-eu", prepared.object))
    tree = plan_tree(cluster="prod-eu", objects=objects)
    for path, content in tree.items():
        target = tmp_path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    kustomize = shutil.which(str(KUSTOMIZE)) or str(KUSTOMIZE)
    result = subprocess.run(
        [kustomize, "build", "clusters/prod-eu"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    built = kube_yaml.load_all(result.stdout)
    assert len(built) == len(objects)
    assert {(o["kind"], o["metadata"]["name"]) for o in built} == {
        (o["kind"], o["metadata"]["name"]) for _, o in objects
    }


@pytest.mark.parametrize(
    ("path", "odd"),
    [
        ("clusters/prod/namespaces/a/configmaps/x.yaml", False),
        ("clusters/prod/..x/.hidden.yaml", False),  # dots inside a segment are a name
        ("/clusters/prod/x.yaml", True),
        ("clusters//prod/x.yaml", True),
        ("clusters/prod/./x.yaml", True),
        ("clusters/prod/../other/x.yaml", True),
        ("clusters/prod/", True),
        ("", True),
    ],
)
def test_has_odd_segment(path: str, odd: bool) -> None:
    """The one check the file stream's three readers (the plan, fast-import, the in-memory
    repository) make of every path: an empty, ``.`` or ``..`` segment."""
    assert has_odd_segment(path) is odd


# Paths as hostile as a backup can make them: iter_files checks a folder's first path whole
# and the next ones by their name alone; both must say what the whole checks say of each path.
FOLDERS = [
    "clusters/c/namespaces/shop/configmaps",
    "clusters/c/namespaces/shop/deployments.apps/deeper",
    "clusters/c/cluster-scoped/nodes",
    "clusters/c/namespaces/shop",
    "clusters/c/cluster-scoped",
    "clusters/c/flux/x",
    "clusters/c",
    "clusters",
    "",
    "clusters/c/namespaces/../configmaps",
    "clusters/c/./cluster-scoped/nodes",
    "clusters/c//cluster-scoped/nodes",
    "clusters/c/namespaces/shop/configmaps/",
    "/clusters/c/namespaces/shop/configmaps",
    "clusters/other/namespaces/shop/configmaps",
    "clusters/cc/namespaces/shop/configmaps",
    "clusters/c/namespaces/shop/config\nmaps",
    'clusters/c/namespaces/"shop"/configmaps',
]
NAMES = [
    "a.yaml",
    "%A1b2.yaml",
    "_kustomization.yaml",
    "kustomization.yaml",
    ".yaml",
    "..yaml",
    "...yaml",
    ".hidden.yaml",
    "a.yml",
    "a.yaml.json",
    "yaml",
    "",
    ".",
    "..",
    "a\nb.yaml",
    'q".yaml',
    "a b.yaml",
    "a\rb.yaml",
    "a\0.yaml",
]


def whole_check(path: str, by: units.UnitsBy = "namespace") -> str | None:
    """What the checks every path had say of ``path`` alone (None: it passes)."""
    try:
        repo_plan._check_inside(path, "clusters/c/")
        units.unit_key(path[len("clusters/c/") :], by=by)
    except ValueError as exc:
        return f"ValueError: {exc}"
    if path.rpartition("/")[2] == units.KUSTOMIZATION:
        return f"PathCollision: an object maps to {path}"
    return None


def streamed(paths: list[str], by: units.UnitsBy = "namespace") -> tuple[list[str], str | None]:
    """The paths ``iter_files`` let through, and how it refused the next one (None: none)."""
    passed: list[str] = []
    files = [(path, None) for path in paths]
    try:
        for path, content in repo_plan.iter_files(
            cluster="c", files=files, layout=units.Layout(by=by)
        ):
            if content is None:  # a file of the stream (the kustomizations have bytes)
                passed.append(path)
    except ValueError as exc:
        return passed, f"{type(exc).__name__}: {exc}"
    return passed, None


@pytest.mark.parametrize("by", ["namespace", "cluster"])
def test_a_path_is_refused_after_a_good_one_of_its_folder_as_on_its_own(by: units.UnitsBy) -> None:
    """The check by name holds to the whole checks on every folder and name above, whether
    the path comes first or after one its folder passed with."""
    for folder in FOLDERS:
        warm = f"{folder}/warm.yaml"
        warmed = whole_check(warm, by) is None
        for name in NAMES:
            path = f"{folder}/{name}"
            verdict = whole_check(path, by)
            assert streamed([path], by) == ([path] if verdict is None else [], verdict), path
            if warmed:
                after = streamed([warm, path], by)
                assert after == ([warm, path] if verdict is None else [warm], verdict), path


@pytest.mark.parametrize("by", ["namespace", "cluster"])
def test_files_are_listed_in_their_units_as_each_path_alone_places_them(
    by: units.UnitsBy,
) -> None:
    """Folders interleaved (as an archive may order its members): each unit's kustomization
    lists its files as ``units.unit_key`` of each whole path places them."""
    paths = [
        f"clusters/c/{folder}/{name}"
        for name in ("b.yaml", "a.yaml", "_kustomization.yaml", "%A1b2.yaml")
        for folder in (
            "namespaces/shop/configmaps",
            "cluster-scoped/nodes",
            "namespaces/web/deployments.apps",
            "namespaces/shop/secrets",
            "namespaces/shop/deployments.apps/deeper",
        )
    ]
    members: dict[str, list[str]] = {}
    for path in paths:
        relative = path[len("clusters/c/") :]
        key = units.unit_key(relative, by=by)
        members.setdefault(key, []).append(relative[len(key) + 1 :] if key else relative)
    layout = units.Layout(by=by)
    plan = units.plan_units("c", members, layout=layout)
    folders = [
        (f"clusters/c/{key}" if key else "clusters/c", listed)
        for key, listed in plan.parents.items()
    ]
    folders += [(unit.folder, unit.files) for unit in plan.units]
    expected = [(path, None) for path in paths] + [
        (f"{folder}/{units.KUSTOMIZATION}", kube_yaml.dump(units.kustomization(listed)).encode())
        for folder, listed in folders
    ]
    made = list(repo_plan.iter_files(cluster="c", files=[(p, None) for p in paths], layout=layout))
    assert made[: len(expected)] == expected
