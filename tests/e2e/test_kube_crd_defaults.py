"""CRD schema defaults against a real kube-apiserver: the server fills them in, cleaning takes
them out again, and what is left gives back the same stored object.

A CRD with defaults at several depths (a property, a parent object's default with a nested
one, the items of a map list, the values of an additionalProperties map) is created on the
shared server; custom resources are applied without those fields (client-side, server-side,
and one that writes a default value itself) and read back with the defaults the server filled
in. Cleaned with the CRD in the index, each one's ``spec`` is exactly what was applied; a
server-side dry-run apply of the cleaned object into a fresh namespace gives back the stored
``spec``. Without the CRD in the index nothing is pruned.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from backup2gitops.core import cleaning
from tests.kube_apiserver import KUBE_MISSING, KubeCluster, available

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(not available(), reason=KUBE_MISSING)]

GROUP = "defaults.b2g.example"
CRD_NAME = f"gizmos.{GROUP}"
NAMESPACE = "crd-defaults"
COPY_NAMESPACE = "crd-defaults-copy"

CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": CRD_NAME},
    "spec": {
        "group": GROUP,
        "names": {
            "kind": "Gizmo",
            "plural": "gizmos",
            "singular": "gizmo",
            "listKind": "GizmoList",
        },
        "scope": "Namespaced",
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "properties": {
                                    "size": {"type": "string"},
                                    "replicas": {"type": "integer", "default": 1},
                                    "mode": {"type": "string", "default": "fast"},
                                    "paused": {"type": "boolean", "default": False},
                                    "tls": {
                                        "type": "object",
                                        "default": {},
                                        "properties": {
                                            "enabled": {"type": "boolean", "default": False},
                                            "secretName": {"type": "string"},
                                        },
                                    },
                                    "ports": {
                                        "type": "array",
                                        "x-kubernetes-list-type": "map",
                                        "x-kubernetes-list-map-keys": ["port"],
                                        "items": {
                                            "type": "object",
                                            "required": ["port"],
                                            "properties": {
                                                "port": {"type": "integer"},
                                                "protocol": {"type": "string", "default": "TCP"},
                                            },
                                        },
                                    },
                                    "limits": {
                                        "type": "object",
                                        "additionalProperties": {
                                            "type": "object",
                                            "properties": {
                                                "rate": {"type": "integer"},
                                                "burst": {"type": "integer", "default": 10},
                                            },
                                        },
                                    },
                                },
                            }
                        },
                    }
                },
            }
        ],
    },
}


def gizmo(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/v1",
        "kind": "Gizmo",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": spec,
    }


CLIENT_SIDE = gizmo(
    "client", {"size": "small", "ports": [{"port": 80}], "limits": {"api": {"rate": 5}}}
)
PINNED = gizmo("pinned", {"size": "big", "replicas": 1, "tls": {"enabled": False}})
SERVER_SIDE = gizmo("server", {"size": "medium", "ports": [{"port": 8443}, {"port": 9090}]})


@pytest.fixture(scope="module")
def stored(kube_cluster: KubeCluster) -> Iterator[dict[str, dict[str, Any]]]:
    """The CRD and the three custom resources as the server stores them (its defaults in)."""
    kube_cluster.apply([CRD])
    kube_cluster.kubectl("wait", "--for=condition=Established", f"crd/{CRD_NAME}", "--timeout=60s")
    for namespace in (NAMESPACE, COPY_NAMESPACE):
        kube_cluster.kubectl("create", "namespace", namespace)
    try:
        kube_cluster.apply([CLIENT_SIDE, PINNED], server_side=False)
        kube_cluster.apply([SERVER_SIDE])
        live = {"crd": _get(kube_cluster, "crd", CRD_NAME)}
        for obj in (CLIENT_SIDE, PINNED, SERVER_SIDE):
            name = obj["metadata"]["name"]
            live[name] = _get(kube_cluster, f"gizmos.{GROUP}", name, "-n", NAMESPACE)
        yield live
    finally:
        for namespace in (NAMESPACE, COPY_NAMESPACE):
            kube_cluster.kubectl("delete", "namespace", namespace, "--wait=false", check=False)
        kube_cluster.kubectl("delete", "crd", CRD_NAME, "--wait=false", check=False)


def _get(cluster: KubeCluster, *args: str) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(cluster.kubectl("get", *args, "-o", "json").stdout)
    return found


def _cleaned(
    live: dict[str, dict[str, Any]], name: str, *, with_crd: bool = True
) -> dict[str, Any]:
    index = cleaning.BackupIndex.of([live["crd"]] if with_crd else [])
    prepared = cleaning.prepare(live[name], policy=cleaning.CleaningPolicy(), index=index)
    assert prepared.object is not None, prepared.excluded
    return prepared.object


def test_the_server_fills_in_the_defaults(stored: dict[str, dict[str, Any]]) -> None:
    """The premise: what a backup holds has values nobody wrote."""
    spec = stored["client"]["spec"]
    assert spec["replicas"] == 1 and spec["mode"] == "fast" and spec["paused"] is False
    assert spec["tls"] == {"enabled": False}
    assert spec["ports"] == [{"port": 80, "protocol": "TCP"}]
    assert spec["limits"] == {"api": {"rate": 5, "burst": 10}}


@pytest.mark.parametrize(
    "applied", [CLIENT_SIDE, PINNED, SERVER_SIDE], ids=lambda o: o["metadata"]["name"]
)
def test_cleaning_gives_back_what_was_applied(
    stored: dict[str, dict[str, Any]], applied: dict[str, Any]
) -> None:
    name = applied["metadata"]["name"]
    assert stored[name]["spec"] != applied["spec"]
    assert _cleaned(stored, name)["spec"] == applied["spec"]


def test_without_its_crd_in_the_backup_a_custom_resource_is_left_as_it_is(
    stored: dict[str, dict[str, Any]],
) -> None:
    assert _cleaned(stored, "client", with_crd=False)["spec"] == stored["client"]["spec"]


@pytest.mark.parametrize("name", ["client", "pinned", "server"])
def test_a_dry_run_apply_of_the_cleaned_object_stores_the_same_object(
    kube_cluster: KubeCluster, stored: dict[str, dict[str, Any]], name: str
) -> None:
    """Into a fresh namespace (a create: on the existing object server-side apply would keep
    fields other managers own, and prove nothing)."""
    cleaned = copy.deepcopy(_cleaned(stored, name))
    cleaned["metadata"]["namespace"] = COPY_NAMESPACE
    result = kube_cluster.kubectl(
        "apply",
        "--server-side",
        "--dry-run=server",
        "--field-manager=b2g-restore",
        "-o",
        "json",
        "-f",
        "-",
        input=yaml.safe_dump(cleaned),
    )
    restored = json.loads(result.stdout)
    assert restored["spec"] == stored[name]["spec"]
    assert restored["metadata"].get("labels") == stored[name]["metadata"].get("labels")
