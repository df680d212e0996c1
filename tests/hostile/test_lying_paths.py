"""A member whose path lies about its object is refused, so drift sees it at its real path or
not at all (issue 22, item 8).

Before: a cluster-admin ClusterRoleBinding filed as ``configmaps/shop/harmless`` was committed
there, and drift detection (which reads only the folders its rules watch) raised nothing; filed
at its real path it raised ``rbac-cluster-admin-binding``. Now the reader checks the path
against the object's apiVersion, kind, namespace and name (``archive.path_refusal``).
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from backup2gitops.core import events
from backup2gitops.core.archive import MAX_REFUSALS_LISTED, ReadReport, iter_items
from tests.hostile.archives import tarball
from tests.hostile.flow import BASE, Flow

ADMIN: dict[str, Any] = {
    "apiVersion": "rbac.authorization.k8s.io/v1",
    "kind": "ClusterRoleBinding",
    "metadata": {"name": "harmless"},
    "roleRef": {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": "cluster-admin",
    },
    "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": "shop"}],
}
CRB = "clusterrolebindings.rbac.authorization.k8s.io"


def configmap(name: str, namespace: str = "shop") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace},
    }


def widget(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": name, "namespace": "shop"},
    }


LIES = {
    "a ClusterRoleBinding filed as a ConfigMap": ("configmaps/namespaces/shop/harmless", ADMIN),
    "a ClusterRoleBinding filed in a namespace": (f"{CRB}/namespaces/shop/harmless", ADMIN),
    "a ConfigMap filed as a Secret": ("secrets/namespaces/shop/cfg", configmap("cfg")),
    "a kind filed in another group": ("widgets.other.example/namespaces/shop/w", widget("w")),
    "an unknown kind filed as a well-known resource": ("configmaps/namespaces/shop/w", widget("w")),
    "another namespace": ("configmaps/namespaces/shop/cfg", configmap("cfg", "kube-system")),
    "another name": ("configmaps/namespaces/shop/cfg", configmap("other")),
    "a List": (
        "lists/namespaces/shop/all",
        {"apiVersion": "v1", "kind": "List", "items": [ADMIN]},
    ),
}
TRUTHS = {
    "a ConfigMap": ("configmaps/namespaces/shop/cfg", configmap("cfg")),
    "a ClusterRoleBinding": (f"{CRB}/cluster/harmless", ADMIN),
    "a custom resource with an irregular plural": (
        "widgetz.example.com/namespaces/shop/w",
        widget("w"),
    ),
    "an object without its namespace in metadata": (
        "configmaps/namespaces/shop/cfg",
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}},
    ),
}


def read(path: str, obj: dict[str, Any]) -> tuple[str | None, ReadReport]:
    report = ReadReport()
    data = tarball([(f"resources/{path}.json", json.dumps(obj).encode())])
    (item,) = iter_items(io.BytesIO(data), report=report)
    return item.refused, report


@pytest.mark.parametrize("case", LIES)
def test_a_path_that_lies_about_its_object_is_refused_alone(case: str) -> None:
    refused, report = read(*LIES[case])
    assert refused is not None and refused.startswith("path_mismatch"), refused
    assert report.items == 1 and len(report.refused) == 1 and report.refused_total == 1


@pytest.mark.parametrize("case", TRUTHS)
def test_a_path_that_agrees_with_its_object_is_read(case: str) -> None:
    refused, report = read(*TRUTHS[case])
    assert refused is None and report.refused == []


def test_drift_sees_the_binding_at_its_real_path_or_not_at_all(tmp_path: Path) -> None:
    flow = Flow(tmp_path)
    flow.backup(BASE)
    lying = flow.backup([*BASE, ("configmaps", "shop", "harmless", ADMIN)])
    assert lying.type == events.GITOPS_GENERATED  # the rest of the backup is committed
    assert not any("harmless" in path for path in flow.files())
    assert flow.findings() == []  # not at all: nothing was committed to look at

    honest = flow.backup([*BASE, (CRB, None, "harmless", ADMIN)])
    assert honest.type == events.GITOPS_GENERATED
    assert f"clusters/prod/cluster-scoped/{CRB}/harmless.yaml" in flow.files()
    assert [(f.rule, f.name) for f in flow.findings()] == [
        ("rbac-cluster-admin-binding", "harmless")
    ]


def test_the_list_of_refusals_is_bounded() -> None:
    members = [
        (f"resources/configmaps/namespaces/shop/c{i}.json", json.dumps(configmap("x")).encode())
        for i in range(MAX_REFUSALS_LISTED + 5)
    ]
    report = ReadReport()
    items = list(iter_items(io.BytesIO(tarball(members)), report=report))
    assert all(item.refused for item in items) and report.items == len(members)
    assert len(report.refused) == MAX_REFUSALS_LISTED
    assert report.refused_total == len(members)
