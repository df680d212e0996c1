"""Reading a live cluster as a stream of backup items: the service behind cluster-backup.

    kube.discover --> resources to list (filters) --> kube.iter_objects, page by page
      --> objects the filters and default exclusions keep --> BackupItem, one at a time

No ``kubernetes`` import here: every API call goes through ``adapters.kube``. Nothing is held
but the page being read (the adapter keeps one page and the uids it yielded), so the caller can
stream the items straight into a tarball (``backups.write_native_backup``).

What is left out, and where:
- Resources, before anything is listed: ``exclude_resources`` / not in ``include_resources``
  (``name`` matches any group, ``name.group`` one group, ``name.`` the core group only); Secrets
  unless ``include_secrets`` (they are never even read); with ``default_exclusions``, the kinds
  the cleaning package always excludes (Events, Leases, ...: never listed either).
- Objects, as they stream: the cleaning package's ``exclusion_reason`` (controller-owned Pods,
  service-account token Secrets, ``kube-root-ca.crt``, ...) under a policy carrying the
  namespace globs and label selector. The label selector is sent to the API server, which
  filters before it pages (less to read); the policy checks it again on what comes back.
- Namespaces: when every ``include_namespaces`` entry is a plain name, namespaced resources are
  listed per namespace (less to read); otherwise the whole collection is listed and filtered.

Discovery warnings (an aggregated API such as metrics.k8s.io down) are appended to the caller's
``warnings`` list: the backup is partial, with the reason in its manifest, rather than failed.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from backup2gitops.adapters import kube
from backup2gitops.adapters.kube import ApiResource, Discovery
from backup2gitops.adapters.storage import ObjectStore
from backup2gitops.core.archive import BackupItem
from backup2gitops.core.cleaning import CleaningPolicy, exclusion_reason
from backup2gitops.core.cleaning.exclusions import EXCLUDED_KINDS, VELERO_GROUP, policy_reason
from backup2gitops.core.cleaning.objectref import ObjectRef
from backup2gitops.native_backup_writer import WrittenBackup, write_native_backup

if TYPE_CHECKING:
    from backup2gitops.adapters.kube import ApiClient
    from backup2gitops.config import ClusterBackupConfig

__all__ = [
    "ClusterBackup",
    "filter_policy",
    "resource_matches",
    "select_resources",
    "snapshot_items",
    "write_cluster_backup",
]

_GLOB_CHARS = frozenset("*?[")


def resource_matches(entry: str, resource: ApiResource) -> bool:
    """``deployments`` (any group), ``deployments.apps`` (that group), ``configmaps.`` (core)."""
    name, dot, group = entry.strip().lower().partition(".")
    if name != resource.resource.lower():
        return False
    return not dot or group == resource.group.lower()


def _always_excluded(resource: ApiResource) -> bool:
    """Kinds whose every object the cleaning package excludes: not worth listing."""
    return (resource.group, resource.kind) in EXCLUDED_KINDS or resource.group == VELERO_GROUP


def select_resources(
    resources: list[ApiResource], *, config: ClusterBackupConfig
) -> list[ApiResource]:
    """The discovered resources the configuration wants listed, in discovery order."""
    selected = []
    for resource in resources:
        if config.include_resources and not any(
            resource_matches(entry, resource) for entry in config.include_resources
        ):
            continue
        if any(resource_matches(entry, resource) for entry in config.exclude_resources):
            continue
        if (resource.group, resource.resource) == ("", "secrets") and not config.include_secrets:
            continue
        if config.default_exclusions and _always_excluded(resource):
            continue
        selected.append(resource)
    return selected


def filter_policy(config: ClusterBackupConfig) -> CleaningPolicy:
    """The cleaning policy whose exclusions are this configuration's object filters."""
    return CleaningPolicy(
        secrets="plaintext" if config.include_secrets else "exclude",
        include_namespaces=config.include_namespaces,
        exclude_namespaces=config.exclude_namespaces,
        label_selector=config.label_selector,
    )


def _listed_namespaces(config: ClusterBackupConfig) -> list[str] | None:
    """The namespaces to list one by one, or None to list whole collections."""
    names = config.include_namespaces
    if not names or any(_GLOB_CHARS & set(name) for name in names):
        return None
    return sorted(set(names))


def _excluded(
    obj: Mapping[str, Any], *, config: ClusterBackupConfig, policy: CleaningPolicy
) -> str | None:
    if config.default_exclusions:
        return exclusion_reason(obj, policy=policy)
    return policy_reason(ObjectRef.of(obj), policy=policy)


def snapshot_items(
    api: ApiClient,
    *,
    config: ClusterBackupConfig,
    warnings: list[str],
    discovery: Discovery | None = None,
    excluded: collections.Counter[str] | None = None,
) -> Iterator[BackupItem]:
    """Every object the configuration keeps, one at a time, as a backup item.

    Discovers first unless ``discovery`` is given (the caller then knows the server version
    before the first item); either way its warnings are appended to ``warnings``. Pass a
    Counter as ``excluded`` to learn how many objects were left out, per resource. Raises
    ``kube.KubeError`` when the API server fails (discovery of /api or /apis, or a list).
    """
    if discovery is None:
        discovery = kube.discover(api)
    warnings.extend(discovery.warnings)
    policy = filter_policy(config)
    namespaces = _listed_namespaces(config)
    for resource in select_resources(discovery.resources, config=config):
        for obj in kube.iter_objects(  # the server filters by label; the policy checks again
            api,
            resource,
            page_size=config.page_size,
            namespaces=namespaces,
            label_selector=config.label_selector,
        ):
            reason = _excluded(obj, config=config, policy=policy)
            if reason is not None:
                if excluded is not None:
                    excluded[resource.group_resource] += 1
                continue
            metadata = obj.get("metadata") or {}
            yield BackupItem(
                group_resource=resource.group_resource,
                namespace=metadata.get("namespace") if resource.namespaced else None,
                name=str(metadata.get("name") or ""),
                obj=obj,
            )


@dataclass(frozen=True)
class ClusterBackup:
    """A native backup written from a live cluster."""

    written: WrittenBackup
    excluded: dict[str, int]
    """Objects read but left out, per resource (default exclusions and object filters)."""
    discovery_form: str


def write_cluster_backup(
    api: ApiClient,
    store: ObjectStore,
    *,
    config: ClusterBackupConfig,
    cluster: str,
    backup_id: str,
    started_at: datetime,
    clock: Callable[[], datetime],
    progress: Callable[[int], None] | None = None,
) -> ClusterBackup:
    """Discover, stream every kept object into the archive, then write the manifest LAST.

    On any failure (``kube.KubeError`` while listing, ``StorageError`` while writing) no
    manifest is written and the partial archive is deleted; the exception propagates.
    ``progress`` is told how many objects were written so far (the CLI's progress line).
    """
    discovery = kube.discover(api)
    warnings: list[str] = []
    excluded: collections.Counter[str] = collections.Counter()
    items = snapshot_items(
        api, config=config, warnings=warnings, discovery=discovery, excluded=excluded
    )
    written = write_native_backup(
        store,
        items if progress is None else _counted(items, progress),
        cluster=cluster,
        backup_id=backup_id,
        started_at=started_at,
        clock=clock,
        kubernetes_version=discovery.server_version or None,
        warnings=warnings,
    )
    return ClusterBackup(written, dict(sorted(excluded.items())), discovery.form)


def _counted(items: Iterator[BackupItem], progress: Callable[[int], None]) -> Iterator[BackupItem]:
    for count, item in enumerate(items, 1):
        progress(count)
        yield item
