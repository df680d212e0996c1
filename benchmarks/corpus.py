"""Objects as the API server returns them (``kubectl get -o json``), for the benchmarks.

Deployments, Services and ConfigMaps with what the server adds: status, uid, resourceVersion,
managedFields, allocated cluster IPs and the defaulted pod template. ``changed=True`` gives the
same object as a person would have edited it (a new image, a new value, a new label), for the
daily case where a few objects change between two backups.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, BinaryIO

from backup2gitops.core.archive import ArchiveWriter

KINDS = ("deployments.apps", "services", "configmaps")


def deployment(i: int, *, changed: bool = False) -> dict[str, Any]:
    name = f"app-{i}"
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "namespace": f"team-{i % 50}",
            "uid": f"uid-{i}",
            "resourceVersion": str(1000 + i),
            "generation": 3,
            "creationTimestamp": "2026-10-01T10:00:00Z",
            "labels": {"app.kubernetes.io/name": name},
            "annotations": {"deployment.kubernetes.io/revision": "3"},
            "managedFields": [
                {"manager": "kubectl", "operation": "Apply", "fieldsV1": {"f:spec": {}}}
            ],
        },
        "spec": {
            "replicas": 2,
            "revisionHistoryLimit": 10,
            "progressDeadlineSeconds": 600,
            "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
            },
            "template": {
                "metadata": {"creationTimestamp": None, "labels": {"app.kubernetes.io/name": name}},
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "image": f"registry.example.com/app:{i % 7}.{1 if changed else 0}",
                            "imagePullPolicy": "IfNotPresent",
                            "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                            "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}},
                            "terminationMessagePath": "/dev/termination-log",
                            "terminationMessagePolicy": "File",
                        }
                    ],
                    "dnsPolicy": "ClusterFirst",
                    "restartPolicy": "Always",
                    "schedulerName": "default-scheduler",
                    "securityContext": {},
                    "terminationGracePeriodSeconds": 30,
                },
            },
        },
        "status": {"replicas": 2, "readyReplicas": 2, "observedGeneration": 3},
    }


def service(i: int, *, changed: bool = False) -> dict[str, Any]:
    name = f"svc-{i}"
    labels = {"app.kubernetes.io/name": name} | ({"tier": "edge"} if changed else {})
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": name,
            "namespace": f"team-{i % 50}",
            "uid": f"uid-svc-{i}",
            "resourceVersion": str(5000 + i),
            "creationTimestamp": "2026-10-01T10:00:00Z",
            "labels": labels,
            "managedFields": [
                {"manager": "kubectl", "operation": "Apply", "fieldsV1": {"f:spec": {}}}
            ],
        },
        "spec": {
            "clusterIP": f"10.96.{i // 250 % 250}.{i % 250}",
            "clusterIPs": [f"10.96.{i // 250 % 250}.{i % 250}"],
            "internalTrafficPolicy": "Cluster",
            "ipFamilies": ["IPv4"],
            "ipFamilyPolicy": "SingleStack",
            "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}],
            "selector": {"app.kubernetes.io/name": name},
            "sessionAffinity": "None",
            "type": "ClusterIP",
        },
        "status": {"loadBalancer": {}},
    }


def configmap(i: int, *, changed: bool = False) -> dict[str, Any]:
    name = f"config-{i}"
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name,
            "namespace": f"team-{i % 50}",
            "uid": f"uid-cm-{i}",
            "resourceVersion": str(9000 + i),
            "creationTimestamp": "2026-10-01T10:00:00Z",
            "managedFields": [
                {"manager": "kubectl", "operation": "Apply", "fieldsV1": {"f:data": {}}}
            ],
        },
        "data": {
            "LOG_LEVEL": "debug" if changed else "info",
            "app.properties": f"server.port=8080\nfeature.{i % 13}=on\ncache.size=64\n",
        },
    }


def objects(
    count: int, *, changed_every: int = 0, spread: bool = False
) -> Iterator[tuple[str, dict[str, Any]]]:
    """``count`` objects, a third of each kind, in 50 namespaces (``team-{i % 50}``); one in
    ``changed_every`` edited: every ``changed_every``-th one (with 100, all in ``team-0``: a
    day's changes in the namespace being deployed to), or with ``spread`` one in each run of
    ``changed_every``, at a position that moves by one each run (with 100, in every namespace)."""
    makers = (deployment, service, configmap)
    for i in range(count):
        if spread:
            changed = (
                changed_every > 0 and i % changed_every == (i // changed_every) % changed_every
            )
        else:
            changed = changed_every > 0 and i % changed_every == 0
        yield KINDS[i % 3], makers[i % 3](i, changed=changed)


def write_archive(stream: BinaryIO, items: Iterable[tuple[str, dict[str, Any]]]) -> None:
    """The backup holding ``items`` (group-resource, object), each named by its metadata."""
    with ArchiveWriter(stream) as writer:
        for group_resource, obj in items:
            meta = obj["metadata"]
            writer.add(
                group_resource=group_resource,
                namespace=meta.get("namespace"),
                name=meta["name"],
                obj=obj,
            )
