"""The per-member digest cache: which members of a backup need decoding at all.

Pure: no I/O; only the standard library.

Beside each backup commit the generator keeps, in the cluster's folder
(``.backup2gitops/``), one record per archive member: the digest of its raw bytes, what it
became (the file and its blob id, or why it was excluded), and what the commit message counts
of it (kind, credentials in clear). The records are in one file per namespace
(``members/<namespace>.cache``, ``shard_of``), so a backup that changed a few namespaces
rewrites their files, not every record; the header (``members.cache``: the settings, the
facts, the whole backup) is one small file. The next backup hashes every member as it
streams; a member is decoded, cleaned and serialised again only when ``reusable`` says no:

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
(``parse`` returns None, never raises). A shard file that does not parse, or holds a record of
another namespace, adds no record (``read_shard``): its members are decoded and it is written
again.

The header also says what the backup was as a whole (``WholeBackup``): a digest of its members
(names, raw digests, in the archive's order), the id of the cluster's folder as the commit
left it (git's tree id of the folder without the header, every file, link and shard below it
included: the header is written last, made from that id, ``adapters.git.Seal``) and the
commit's figures. A backup with the same members, under the same settings, on a folder that is
still that folder, is that commit's folder again: the generator skips the per-member pass and
takes the figures from the header (``generation.unchanged``).
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass, field
from typing import Any, Final

from backup2gitops.core.cleaning.backup_index import BackupIndex
from backup2gitops.core.cleaning.objectref import split_api_version
from backup2gitops.core.cleaning.schema_defaults import DefaultsNode
from backup2gitops.core.member_records import MemberRecord
from backup2gitops.core.units import GENERATOR_FOLDER

FORMAT: Final = 5
"""2: each record says whether a person changed the object by hand; 3: one tab-separated line
per record, held compactly once read (``MemberRecord``); 4: the header alone in ``CACHE_FILE``,
the records in one file per namespace (``shard_of``); 5: ``WholeBackup.folder`` is the folder's
tree id without the header (``Seal``), not a digest of every file's. A cache of another format
is no cache."""
CACHE_FILE: Final = "members.cache"
"""Not ``.yaml``/``.json``: no GitOps tool reads it as a manifest (Argo CD's directory source
reads ``*.json``)."""
SHARD_FOLDER: Final = "members"
_CLUSTER_SHARD: Final = "_cluster"
_LABEL: Final = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")


def cache_path(cluster_root: str) -> str:
    """``clusters/<cluster>/.backup2gitops/members.cache``: the header."""
    return f"{cluster_root}/{GENERATOR_FOLDER}/{CACHE_FILE}"


def shard_path(cluster_root: str, shard: str) -> str:
    """``clusters/<cluster>/.backup2gitops/members/<shard>.cache``: one namespace's records."""
    return f"{cluster_root}/{GENERATOR_FOLDER}/{SHARD_FOLDER}/{shard}.cache"


def shard_of(namespace: str) -> str:
    """The file a namespace's records are in: the namespace's own name when it is one a
    Kubernetes namespace can have (a DNS label), ``_cluster`` for the cluster-scoped members,
    else ``_`` and a digest of the name (which comes from the archive: never a path of its
    own). No label starts with ``_``: the three never meet."""
    if not namespace:
        return _CLUSTER_SHARD
    if _LABEL.fullmatch(namespace):
        return namespace
    return (
        "_" + hashlib.blake2b(namespace.encode(errors="surrogateescape"), digest_size=8).hexdigest()
    )


def shards_in(files: Iterable[str], cluster_root: str) -> dict[str, str]:
    """The shard files among a folder's ``files``: shard name -> path."""
    prefix, suffix = f"{cluster_root}/{GENERATOR_FOLDER}/{SHARD_FOLDER}/", ".cache"
    return {
        path[len(prefix) : -len(suffix)]: path
        for path in files
        if path.startswith(prefix) and path.endswith(suffix) and "/" not in path[len(prefix) :]
    }


@dataclass(frozen=True)
class WholeBackup:
    """The backup a cache was written for, as a whole (see the module docstring)."""

    members: str
    """The digest of its members' names and raw digests, in the archive's order."""
    folder: str
    """The id of the cluster's folder the commit made, without the header (``Tip.unsealed``)."""
    figures: dict[str, Any]
    """The commit's figures, as JSON (``generation.unchanged.figures_of``)."""

    @classmethod
    def of_json(cls, value: Any) -> WholeBackup | None:
        """The header's ``whole``; None when absent or malformed (the per-member pass runs)."""
        if not isinstance(value, dict):
            return None
        members, folder, figures = value.get("members"), value.get("folder"), value.get("figures")
        if not (isinstance(members, str) and isinstance(folder, str) and isinstance(figures, dict)):
            return None
        return cls(members=members, folder=folder, figures=figures)


@dataclass
class MemberCache:
    settings: str
    index: dict[str, str] = field(default_factory=dict)
    """Fingerprints of the backup's cross-object facts (``index_fingerprints``)."""
    members: dict[str, MemberRecord] = field(default_factory=dict)
    whole: WholeBackup | None = None
    """What the backup was as a whole; None in a cache written before it was known."""

    def dump(self) -> bytes:
        """The header file: one line of JSON (format, settings, index, whole). Deterministic:
        the same cache is the same blob."""
        header: dict[str, Any] = {
            "format": FORMAT,
            "settings": self.settings,
            "index": dict(sorted(self.index.items())),
        }
        if self.whole is not None:
            whole = self.whole
            header["whole"] = {
                "members": whole.members,
                "folder": whole.folder,
                "figures": whole.figures,
            }
        return _line(header).encode() + b"\n"

    def shards(self) -> dict[str, list[str]]:
        """The records' keys by the shard they are written to (``shard_of``), the shards by
        name; each shard's keys as they come (``dump_shard`` sorts the ones it writes: a
        shard file that stays is never sorted)."""
        found: dict[str, list[str]] = {}
        named: dict[str, list[str]] = {}  # namespace -> its shard's keys (one shard_of each)
        for key in self.members:
            namespace = key.split("\0", 2)[1]
            keys = named.get(namespace)
            if keys is None:
                keys = named[namespace] = found.setdefault(shard_of(namespace), [])
            keys.append(key)
        return dict(sorted(found.items()))

    def dump_shard(self, keys: Iterable[str], *, drain: bool = False) -> bytes:
        """The shard file of ``keys``, sorted: one tab-separated line per record, diffable,
        read back whole (``MemberRecord.of_lines``). ``drain`` empties ``members`` of them as
        it goes."""
        out = io.BytesIO()
        members = self.members
        take = members.pop if drain else members.__getitem__
        for key in sorted(keys):
            out.write(take(key).line(key).encode(errors="surrogateescape"))
            out.write(b"\n")
        return out.getvalue()

    @classmethod
    def parse(cls, data: bytes | None) -> MemberCache | None:
        """The cache whose header is ``data``, with no records yet (``read_shard`` adds
        them); None when there is none, it is of another format, or it cannot be trusted.
        Never raises."""
        if not data:
            return None
        try:
            header = json.loads(data)
            if not isinstance(header, dict) or header.get("format") != FORMAT:
                return None
            settings, index = header["settings"], header["index"]
            if not isinstance(settings, str) or not isinstance(index, dict):
                return None
            if not all(isinstance(v, str) for v in index.values()):
                return None
        except (ValueError, KeyError, TypeError):
            return None
        whole = WholeBackup.of_json(header.get("whole"))
        return cls(settings=settings, index=index, whole=whole)

    def read_shard(self, shard: str, data: bytes) -> int | None:
        """Add the records of the shard file ``shard`` (its name) holding ``data``; how many.
        None, and nothing added, when a line does not parse or holds a record of another
        shard: that file cannot be trusted, its members are decoded again. Never raises."""
        try:
            found, namespaces = MemberRecord.of_lines(data.decode(errors="surrogateescape"))
        except (ValueError, KeyError, TypeError):
            return None
        if any(shard_of(namespace) != shard for namespace in namespaces):
            return None
        self.members.update(found)
        return len(found)


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
    digest: bytes,
    namespace: str | None,
    name: str,
    changed: Set[str],
    committed: Mapping[str, str],
    path: str | None = None,
) -> bool:
    """Whether the member's previous outcome stands: same bytes, none of its facts changed, and
    its file (if any) still in the tree as it was written (``committed``: path -> blob id;
    ``path``: the record's file, ``MemberRecord.file``, when it holds none itself)."""
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
    if record.shape.excluded is not None:
        return True
    path = record.path if record.path is not None else path
    return path is not None and committed.get(path) == record.blob


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
