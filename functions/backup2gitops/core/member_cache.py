"""The per-member digest cache: which members of a backup need decoding at all.

Pure: no I/O; only the standard library.

Beside each backup commit the generator keeps, in the cluster's folder (``CACHE_PATH``), one
record per archive member: the digest of its raw bytes, what it became (the file and its blob
id, or why it was excluded), and what the commit message counts of it (kind, credentials in
clear). The next backup hashes every member as it streams; a member is decoded, cleaned and
serialised again only when ``reusable`` says no:

- its bytes changed (or it is new);
- the settings changed: ``MemberCache.settings`` is a digest of everything else that shapes the
  output (cleaning policy and rules' code, transforms, layout, sops recipients, cluster, the
  project's version); another value voids the whole cache;
- something it depends on in the rest of the backup changed: cleaning reads three facts of
  other objects (``core.cleaning.backup_index``): a claim's StatefulSet (claim templates by
  namespace and name prefix), a custom resource's CRD (schema defaults by group, version and
  kind), the HPA that scales an object. The cache keeps a fingerprint of each such fact
  (``index_fingerprints``); a fact whose fingerprint differs, appears or disappears voids the
  members that look it up (``dependencies``);
- the file it produced is not in the tip's tree with the same blob id (edited or removed by
  hand, or another commit since): the tree, not the cache, is the truth.

A cache that is missing, unreadable or of another format is no cache: every member is decoded
(``parse`` returns None, never raises).
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass, field
from typing import Any, Final

from backup2gitops.core.cleaning.backup_index import BackupIndex
from backup2gitops.core.cleaning.objectref import split_api_version
from backup2gitops.core.cleaning.schema_defaults import DefaultsNode
from backup2gitops.core.units import GENERATOR_FOLDER

FORMAT: Final = 2  # 2: each record says whether a person changed the object by hand
CACHE_FILE: Final = "members.cache"
"""Not ``.yaml``/``.json``: no GitOps tool reads it as a manifest (Argo CD's directory source
reads ``*.json``)."""


def cache_path(cluster_root: str) -> str:
    """``clusters/<cluster>/.backup2gitops/members.cache``."""
    return f"{cluster_root}/{GENERATOR_FOLDER}/{CACHE_FILE}"


def member_key(group_resource: str, namespace: str | None, name: str) -> str:
    """One member's key: the object's folder, namespace and name (NUL cannot be in any)."""
    return f"{group_resource}\0{namespace or ''}\0{name}"


def raw_digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


@dataclass(frozen=True, slots=True)
class MemberRecord:
    """What one member became. ``excluded`` (a reason) or ``path`` + ``blob`` (its file)."""

    digest: str
    api_version: str = ""
    """The object's ``apiVersion`` and ``kind`` as backed up (its dependencies' keys)."""
    kind: str = ""
    excluded: str | None = None
    path: str | None = None
    blob: str | None = None
    out_kind: str = "?"
    """The written object's kind (the commit message counts by it)."""
    credentials: tuple[str, ...] = ()
    refused: bool = False
    """Excluded by the archive's reader (too deep, a path that lies), not by cleaning."""
    unmanaged: str | None = None
    """``Kind namespace/name`` when no GitOps tool manages the object (changed by hand)."""

    def row(self, key: str) -> list[Any]:
        return [
            key,
            self.digest,
            self.api_version,
            self.kind,
            self.excluded,
            self.path,
            self.blob,
            self.out_kind,
            list(self.credentials),
            self.refused,
            self.unmanaged,
        ]

    @classmethod
    def of_row(cls, row: list[Any]) -> tuple[str, MemberRecord]:
        key, digest, api_version, kind, excluded, path, blob, out_kind, credentials, refused = row[
            :10
        ]
        unmanaged = row[10] if len(row) == 11 else ""  # "": a row of another shape, refused
        if not (unmanaged is None or (isinstance(unmanaged, str) and unmanaged)):
            raise ValueError("unmanaged is not a name")
        for value in (key, digest, api_version, kind, out_kind):
            if not isinstance(value, str):
                raise ValueError("a record field is not a string")
        if not all(value is None or isinstance(value, str) for value in (excluded, path, blob)):
            raise ValueError("a record's outcome is not text")
        if (excluded is None) == (path is None or blob is None):
            raise ValueError("a record is neither excluded nor written")
        if not isinstance(credentials, list) or not all(isinstance(c, str) for c in credentials):
            raise ValueError("credentials are not strings")
        if not isinstance(refused, bool):
            raise ValueError("refused is not a boolean")
        record = cls(
            digest,
            api_version,
            kind,
            excluded,
            path,
            blob,
            out_kind,
            tuple(credentials),
            refused,
            unmanaged,
        )
        return key, record


@dataclass
class MemberCache:
    settings: str
    index: dict[str, str] = field(default_factory=dict)
    """Fingerprints of the backup's cross-object facts (``index_fingerprints``)."""
    members: dict[str, MemberRecord] = field(default_factory=dict)

    def dump(self) -> bytes:
        """Deterministic bytes: the same cache is the same blob (an unchanged backup writes
        none). A header line (format, settings, index), then one JSON array per member, sorted
        by key: diffable, and read back one line at a time."""
        header = {
            "format": FORMAT,
            "settings": self.settings,
            "index": dict(sorted(self.index.items())),
        }
        rows = (_line(self.members[key].row(key)) for key in sorted(self.members))
        return b"\n".join([_line(header).encode(), *(row.encode() for row in rows), b""])

    @classmethod
    def parse(cls, data: bytes | None) -> MemberCache | None:
        """The cache in ``data``; None when there is none, or it cannot be trusted whole."""
        if not data:
            return None
        try:
            stream = io.BytesIO(data)
            header = json.loads(stream.readline())
            if not isinstance(header, dict) or header.get("format") != FORMAT:
                return None
            settings, index = header["settings"], header["index"]
            if not isinstance(settings, str) or not isinstance(index, dict):
                return None
            if not all(isinstance(v, str) for v in index.values()):
                return None
            members = dict(
                MemberRecord.of_row(json.loads(line)) for line in stream if line != b"\n"
            )
        except (ValueError, KeyError, TypeError):
            return None
        return cls(settings=settings, index=index, members=members)


def _line(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def settings_digest(parts: Iterable[str]) -> str:
    """One digest of the settings' texts (their order matters)."""
    digest = hashlib.sha256(b"member-cache %d\n" % FORMAT)
    for part in parts:
        encoded = part.encode()
        digest.update(b"%d:" % len(encoded) + encoded)
    return digest.hexdigest()


def index_fingerprints(index: BackupIndex) -> dict[str, str]:
    """A digest of each cross-object fact of the backup, by the key members look it up with."""
    found: dict[str, str] = {}
    for (namespace, prefix), templates in index.claim_templates.items():
        text = json.dumps(
            sorted([t.statefulset, t.template, sorted(t.labels.items())] for t in templates)
        )
        found[_claim_key(namespace, prefix)] = _short(text)
    for (group, version, kind), node in index.schema_defaults.items():
        found[_schema_key(group, version, kind)] = _short(
            json.dumps(_node_form(node), sort_keys=True, default=repr)
        )
    for namespace, group, kind, name in index.autoscaled:
        found[_scale_key(namespace, group, kind, name)] = "1"
    return found


def dependencies(
    *, namespace: str | None, name: str, api_version: str, kind: str
) -> tuple[str, ...]:
    """The facts of the rest of the backup cleaning this member looks up (present or not)."""
    group, version = split_api_version(api_version)
    keys = [_schema_key(group, version, kind), _scale_key(namespace or "", group, kind, name)]
    if (group, kind) == ("", "PersistentVolumeClaim") and namespace:
        prefix, dash, _ = name.rpartition("-")
        if dash:
            keys.append(_claim_key(namespace, prefix))
    return tuple(keys)


def changed_facts(old: Mapping[str, str], new: Mapping[str, str]) -> frozenset[str]:
    """The facts that differ between two backups' fingerprints (changed, new or gone)."""
    return frozenset(key for key in old.keys() | new.keys() if old.get(key) != new.get(key))


def reusable(
    record: MemberRecord | None,
    *,
    digest: str,
    namespace: str | None,
    name: str,
    changed: Set[str],
    committed: Mapping[str, str],
) -> bool:
    """Whether the member's previous outcome stands: same bytes, none of its facts changed, and
    its file (if any) still in the tree as it was written (``committed``: path -> blob id)."""
    if record is None or record.digest != digest:
        return False
    if changed and record.api_version:
        facts = dependencies(
            namespace=namespace,
            name=name,
            api_version=record.api_version,
            kind=record.kind,
        )
        if any(fact in changed for fact in facts):
            return False
    if record.excluded is not None:
        return True
    return record.path is not None and committed.get(record.path) == record.blob


def _claim_key(namespace: str, prefix: str) -> str:
    return f"claim\0{namespace}\0{prefix}"


def _schema_key(group: str, version: str, kind: str) -> str:
    return f"schema\0{group}\0{version}\0{kind}"


def _scale_key(namespace: str, group: str, kind: str, name: str) -> str:
    return f"scale\0{namespace}\0{group}\0{kind}\0{name}"


def _short(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()


def _node_form(node: DefaultsNode | None) -> Any:
    if node is None:
        return None
    return {
        "d": [node.default] if node.has_default else [],
        "p": {key: _node_form(child) for key, child in node.properties.items()},
        "i": _node_form(node.items),
        "a": _node_form(node.additional),
        "k": list(node.map_keys),
    }
