"""The embedded sample cluster backup used by ``backup2gitops demo`` (package data, read-only).

The files under ``resources/`` are laid out as an extracted Velero backup (see core.archive) and
hold objects exactly as the API server of a small Kubernetes v1.31 cluster returns them: status,
managedFields, uids, resourceVersions, last-applied annotations and defaulted fields included.
Besides what a person wrote (namespaces shop, payments, monitoring; Deployments -- one managed by
Helm --, a StatefulSet, a DaemonSet, Services, RBAC, a CronJob, a CRD and two custom resources,
...) it carries the noise a cleaner must drop: controller-owned ReplicaSets, Pods, a Job,
ControllerRevisions, EndpointSlices, Endpoints, Events, a Lease and a Node. Owner references and
uids are consistent across objects.

Reads package data through importlib.resources; no other I/O.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any

from backup2gitops.core.archive import BackupItem

__all__ = [
    "SAMPLE_BACKUP_ID",
    "SAMPLE_CLUSTER",
    "SAMPLE_KUBERNETES_VERSION",
    "iter_sample_items",
]

SAMPLE_CLUSTER = "demo"
SAMPLE_BACKUP_ID = "20261101t020000z"
SAMPLE_KUBERNETES_VERSION = "v1.31.4"


def _load(entry: Traversable) -> dict[str, Any]:
    obj = json.loads(entry.read_bytes())
    if not isinstance(obj, dict):  # pragma: no cover - guarded by tests
        raise ValueError(f"sample {entry.name} is not a JSON object")
    return obj


def _json_files(folder: Traversable) -> Iterator[Traversable]:
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.is_file() and entry.name.endswith(".json"):
            yield entry


def iter_sample_items() -> Iterator[BackupItem]:
    """Every object of the sample backup, ordered by group-resource, namespace and name."""
    root = resources.files(__name__) / "resources"
    for group_dir in sorted(root.iterdir(), key=lambda e: e.name):
        if not group_dir.is_dir():
            continue
        cluster_dir = group_dir / "cluster"
        if cluster_dir.is_dir():
            for entry in _json_files(cluster_dir):
                yield BackupItem(group_dir.name, None, entry.name[: -len(".json")], _load(entry))
        namespaces_dir = group_dir / "namespaces"
        if namespaces_dir.is_dir():
            for ns_dir in sorted(namespaces_dir.iterdir(), key=lambda e: e.name):
                for entry in _json_files(ns_dir):
                    yield BackupItem(
                        group_dir.name, ns_dir.name, entry.name[: -len(".json")], _load(entry)
                    )
