"""Object-store key naming for native and Velero backups (Velero's ObjectStoreLayout idea).

PURE: no I/O. This module computes and parses keys; moving bytes is the storage adapter's job.

Native layout (ours)::

    [<prefix>/]backups/<cluster>/<backup-id>/resources.tar.gz
    [<prefix>/]backups/<cluster>/<backup-id>/manifest.json      written LAST: the completion marker

Velero layout (vmware-tanzu/velero pkg/persistence/object_store_layout.go)::

    [<prefix>/]backups/<name>/velero-backup.json
    [<prefix>/]backups/<name>/<name>.tar.gz
    [<prefix>/]backups/<name>/<name>-logs.gz, <name>-results.gz, ...   (role "other")

The two shapes differ in depth (native has one more folder level), so at a given prefix they
cannot be confused. The one ambiguity -- ``backups/backups/<a>/<b>`` is Velero under prefix
``backups`` or native at the root with cluster ``backups`` -- is settled by configuration: a key
in Velero's shape under a configured Velero prefix is Velero's.

A Velero prefix must hold only Velero's own folders: a native writer must not use a location a
Velero BackupStorageLocation owns. With a Velero location at the bucket root, native backups at
the root would sit inside Velero's ``backups/`` folder (Velero would log them as broken backups),
so give native backups a prefix or another bucket.
"""

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from backup2gitops.core.errors import Backup2GitopsError

__all__ = [
    "ARCHIVE_NAME",
    "CLUSTER_PATTERN",
    "MANIFEST_NAME",
    "NAME_PATTERN",
    "PREFIX_SEGMENT_RE",
    "VELERO_BACKUP_JSON",
    "BackupKey",
    "BackupKeys",
    "LayoutError",
    "backup_keys",
    "is_cluster_name",
    "is_hostile",
    "join_prefix",
    "native_archive_key",
    "native_backup_dir",
    "native_cluster_dir",
    "native_manifest_key",
    "new_backup_id",
    "parse_key",
    "split_prefix",
    "validate_cluster",
    "validate_name",
    "velero_archive_key",
    "velero_backup_json_key",
]

ARCHIVE_NAME = "resources.tar.gz"
MANIFEST_NAME = "manifest.json"
VELERO_BACKUP_JSON = "velero-backup.json"
BACKUPS_DIR = "backups"

NAME_PATTERN = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"
"""Backup ids and Velero backup names: a DNS-1123 subdomain (Kubernetes object names), at most
253 characters, no ``..``. Nothing else reaches a key, a branch name or a commit trailer."""
CLUSTER_PATTERN = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
"""Cluster names: a DNS-1123 label (at most 63 characters, no dots), as ``clusters[].name``."""
_NAME_RE = re.compile(NAME_PATTERN)
_CLUSTER_RE = re.compile(CLUSTER_PATTERN)
_MAX_NAME = 253
PREFIX_SEGMENT_RE = re.compile(r"[A-Za-z0-9_.=+@-]+")

Format = Literal["native", "velero"]
Role = Literal["manifest", "archive", "velero_json", "other"]


class LayoutError(Backup2GitopsError, ValueError):
    """A name or prefix that cannot be part of a key."""

    code = "invalid_name"


class BackupKey(BaseModel):
    """What a key is, when it belongs to a backup."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    format: Format
    role: Role
    cluster: str | None
    """The cluster name of a native key; None for Velero (its keys do not name the cluster)."""
    backup_id: str
    """Native backup id, or the Velero Backup's name."""
    prefix: str
    """The folder the ``backups/`` folder sits in, without a trailing slash; "" for the root."""


def _is_valid_name(value: str) -> bool:
    return (
        0 < len(value) <= _MAX_NAME and ".." not in value and _NAME_RE.fullmatch(value) is not None
    )


def is_cluster_name(value: str) -> bool:
    return _CLUSTER_RE.fullmatch(value) is not None


def validate_cluster(value: str) -> str:
    """Return ``value`` if it is a DNS-1123 label (a cluster name), else raise LayoutError."""
    if not is_cluster_name(value):
        raise LayoutError(
            f"invalid cluster {value!r}: want a DNS-1123 label, [a-z0-9]([-a-z0-9]*[a-z0-9])?, "
            "at most 63 characters"
        )
    return value


def validate_name(value: str, *, what: str = "name") -> str:
    """Return ``value`` if it is a DNS-1123-style name fit for a key segment, else raise."""
    if not _is_valid_name(value):
        raise LayoutError(
            f"invalid {what} {value!r}: want [a-z0-9]([-a-z0-9.]*[a-z0-9])?, at most "
            f"{_MAX_NAME} characters, no '..'"
        )
    return value


def split_prefix(prefix: str) -> list[str]:
    """The segments of a key prefix (``LayoutError`` on one that could escape or is not plain)."""
    stripped = prefix.strip("/")
    if not stripped:
        return []
    segments = stripped.split("/")
    for segment in segments:
        if segment in {"", ".", ".."} or PREFIX_SEGMENT_RE.fullmatch(segment) is None:
            raise LayoutError(f"invalid prefix {prefix!r}: bad segment {segment!r}")
    return segments


def _normalise_prefix(prefix: str) -> str:
    return "/".join(split_prefix(prefix))


def join_prefix(prefix: str, *parts: str) -> str:
    """``parts`` under ``prefix`` (checked by ``split_prefix``), joined with ``/``."""
    return "/".join([*split_prefix(prefix), *parts])


def native_cluster_dir(*, prefix: str, cluster: str) -> str:
    """The folder of one cluster's native backups, with a trailing slash (for listing)."""
    validate_cluster(cluster)
    return join_prefix(prefix, BACKUPS_DIR, cluster) + "/"


def native_backup_dir(*, prefix: str, cluster: str, backup_id: str) -> str:
    """The folder of one native backup, with a trailing slash (for listing)."""
    validate_cluster(cluster)
    validate_name(backup_id, what="backup id")
    return join_prefix(prefix, BACKUPS_DIR, cluster, backup_id) + "/"


def native_archive_key(*, prefix: str, cluster: str, backup_id: str) -> str:
    """``[prefix/]backups/<cluster>/<backup-id>/resources.tar.gz``."""
    return native_backup_dir(prefix=prefix, cluster=cluster, backup_id=backup_id) + ARCHIVE_NAME


def native_manifest_key(*, prefix: str, cluster: str, backup_id: str) -> str:
    """``[prefix/]backups/<cluster>/<backup-id>/manifest.json`` -- the completion marker."""
    return native_backup_dir(prefix=prefix, cluster=cluster, backup_id=backup_id) + MANIFEST_NAME


def velero_backup_json_key(*, prefix: str, name: str) -> str:
    """``[prefix/]backups/<name>/velero-backup.json``."""
    validate_name(name, what="Velero backup name")
    return join_prefix(prefix, BACKUPS_DIR, name, VELERO_BACKUP_JSON)


def velero_archive_key(*, prefix: str, name: str) -> str:
    """``[prefix/]backups/<name>/<name>.tar.gz``."""
    validate_name(name, what="Velero backup name")
    return join_prefix(prefix, BACKUPS_DIR, name, f"{name}.tar.gz")


def new_backup_id(now: datetime) -> str:
    """A sortable, lowercase backup id from an aware time, e.g. ``20261123t044501z``."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise LayoutError("new_backup_id needs an aware datetime")
    return now.astimezone(UTC).strftime("%Y%m%dt%H%M%Sz")


def is_hostile(key: str) -> bool:
    """Whether a key could mean another place than it says (absolute, ``..``, empty parts)."""
    return (
        not key
        or key.startswith("/")
        or "\\" in key
        or "\x00" in key
        or any(segment in {"", ".", ".."} for segment in key.split("/"))
    )


def _prefix_or_none(segments: list[str]) -> str | None:
    prefix = "/".join(segments)
    try:
        return _normalise_prefix(prefix) if prefix else ""
    except LayoutError:
        return None


def _parse_velero(segments: list[str], velero_prefixes: set[str]) -> BackupKey | None:
    if len(segments) < 3 or segments[-3] != BACKUPS_DIR:
        return None
    prefix = _prefix_or_none(segments[:-3])
    if prefix is None or prefix not in velero_prefixes:
        return None
    name, filename = segments[-2], segments[-1]
    if not _is_valid_name(name):
        return None
    role: Role
    if filename == VELERO_BACKUP_JSON:
        role = "velero_json"
    elif filename == f"{name}.tar.gz":
        role = "archive"
    else:
        role = "other"
    return BackupKey(format="velero", role=role, cluster=None, backup_id=name, prefix=prefix)


def _parse_native(segments: list[str]) -> BackupKey | None:
    if len(segments) < 4 or segments[-4] != BACKUPS_DIR:
        return None
    prefix = _prefix_or_none(segments[:-4])
    cluster, backup_id, filename = segments[-3], segments[-2], segments[-1]
    if prefix is None or not (is_cluster_name(cluster) and _is_valid_name(backup_id)):
        return None
    role: Role
    if filename == MANIFEST_NAME:
        role = "manifest"
    elif filename == ARCHIVE_NAME:
        role = "archive"
    else:
        role = "other"
    return BackupKey(
        format="native", role=role, cluster=cluster, backup_id=backup_id, prefix=prefix
    )


def parse_key(key: str, *, velero_prefixes: Sequence[str] = ("",)) -> BackupKey | None:
    """Say which backup a (decoded) key belongs to, or None when it belongs to none.

    A key under one of ``velero_prefixes`` in Velero's shape is Velero's; otherwise a key in the
    native shape, under any prefix, is native. Hostile keys (absolute, ``..``, empty segments,
    backslashes, NUL) and names that fail validation give None, never an exception.
    """
    if is_hostile(key):
        return None
    segments = key.split("/")
    configured: set[str] = set()
    for prefix in velero_prefixes:
        try:
            configured.add(_normalise_prefix(prefix))
        except LayoutError:
            continue
    return _parse_velero(segments, configured) or _parse_native(segments)


class BackupKeys(BaseModel):
    """The marker and the archive of one backup, as a ``backup.completed`` names them."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    marker: str
    archive: str


def backup_keys(
    keys: Sequence[str],
    *,
    format: Format,
    cluster: str,
    backup_id: str,
    velero_clusters: Mapping[str, str],
) -> BackupKeys:
    """The marker and archive among ``keys``, when they are where the layout puts ``cluster``'s
    backup ``backup_id``; LayoutError otherwise.

    Native: ``[<prefix>/]backups/<cluster>/<backup-id>/`` names the cluster. Velero: the key
    does not, so the cluster is the one whose ``velero_prefix`` holds the key
    (``velero_clusters``: normalised prefix -> cluster). An event that says ``cluster: other``
    for a key under ``backups/demo/`` is refused: the event's word is never taken over the key's.
    """
    parsed = [parse_key(key, velero_prefixes=tuple(velero_clusters)) for key in keys]
    found: dict[str, str] = {}
    for key, where in zip(keys, parsed, strict=True):
        if where is None or where.format != format or where.backup_id != backup_id:
            raise LayoutError(f"{key!r} is not a key of {format} backup {backup_id!r}")
        owner = where.cluster if where.format == "native" else velero_clusters.get(where.prefix)
        if owner != cluster:
            raise LayoutError(
                f"{key!r} belongs to cluster {owner!r}, not to {cluster!r} as the event says"
            )
        if where.role in found:
            raise LayoutError(f"{key!r}: two {where.role} keys")
        found[where.role] = key
    marker_role = "manifest" if format == "native" else "velero_json"
    if set(found) != {marker_role, "archive"} or len({p.prefix for p in parsed if p}) != 1:
        raise LayoutError(f"want the {marker_role} and the archive of one backup, got {list(keys)}")
    return BackupKeys(marker=found[marker_role], archive=found["archive"])
