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
import re
from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass, field
from typing import Any, Final

from backup2gitops.core.cleaning.backup_index import BackupIndex
from backup2gitops.core.cleaning.objectref import split_api_version
from backup2gitops.core.cleaning.schema_defaults import DefaultsNode
from backup2gitops.core.units import GENERATOR_FOLDER

FORMAT: Final = 3
"""2: each record says whether a person changed the object by hand; 3: one tab-separated line
per record, held compactly once read (``MemberRecord``). A cache of another format is no cache."""
CACHE_FILE: Final = "members.cache"
"""Not ``.yaml``/``.json``: no GitOps tool reads it as a manifest (Argo CD's directory source
reads ``*.json``)."""

DIGEST_SIZE: Final = 16
_BLOB_SIZE: Final = 20  # a SHA-1 object id
_FIELDS: Final = 12
_REFUSED, _UNMANAGED = "r", "u"


def cache_path(cluster_root: str) -> str:
    """``clusters/<cluster>/.backup2gitops/members.cache``."""
    return f"{cluster_root}/{GENERATOR_FOLDER}/{CACHE_FILE}"


def member_key(group_resource: str, namespace: str | None, name: str) -> str:
    """One member's key: the object's folder, namespace and name (NUL cannot be in any)."""
    return f"{group_resource}\0{namespace or ''}\0{name}"


def natural_path(cluster_root: str, key: str) -> str:
    """The file a member's key names when no segment needed escaping (``repo_layout``'s
    common case). A record whose file is this one holds no path (``MemberRecord.file``): at
    50,000 members, 5 MB less in memory and 3 MB less in the file."""
    group_resource, namespace, name = key.split("\0")
    if namespace:
        return f"{cluster_root}/namespaces/{namespace}/{group_resource}/{name}.yaml"
    return f"{cluster_root}/cluster-scoped/{group_resource}/{name}.yaml"


_NATURAL: Final = "="
"""The path field of a line whose file is ``natural_path`` (no path starts with ``=``)."""


def raw_digest(data: bytes) -> bytes:
    """The digest of a member's raw bytes (16 bytes: a bytes object, not its hex text, is what
    the spool and the records hold for every member)."""
    return hashlib.blake2b(data, digest_size=DIGEST_SIZE).digest()


@dataclass(frozen=True, slots=True)
class Shape:
    """What many members share (interned: one object for every ``v1`` ``ConfigMap`` written
    in clear and changed by hand): what they are, and what they became."""

    api_version: str
    kind: str
    excluded: str | None
    out_kind: str
    credentials: tuple[str, ...]
    refused: bool
    unmanaged: bool


_SHAPES: dict[Shape, Shape] = {}


def _shape(shape: Shape) -> Shape:
    if len(_SHAPES) > 4096:  # shapes with credentials are one per object: do not hoard them
        _SHAPES.clear()
    return _SHAPES.setdefault(shape, shape)


class MemberRecord:
    """What one member became: ``excluded`` (a reason), or ``blob`` and its file (``file``:
    ``path``, or when None the key's ``natural_path``).

    Compact, since a backup has one per member: the digest and the blob id as bytes (not hex
    text), and everything else in one interned ``Shape``. ``unmanaged`` is a flag: the name
    the commit message lists (``Kind namespace/name``) is the object's kind and key
    (``unmanaged_name``)."""

    __slots__ = ("blob_id", "digest", "path", "shape")

    def __init__(
        self,
        digest: bytes,
        api_version: str = "",
        kind: str = "",
        excluded: str | None = None,
        path: str | None = None,
        blob: str | None = None,
        out_kind: str = "?",
        credentials: tuple[str, ...] = (),
        refused: bool = False,
        unmanaged: bool = False,
    ) -> None:
        self.digest = digest
        self.path = path
        self.blob_id = None if blob is None else bytes.fromhex(blob)
        self.shape = _shape(
            Shape(api_version, kind, excluded, out_kind, credentials, refused, unmanaged)
        )

    @property
    def api_version(self) -> str:
        """The object's ``apiVersion`` and ``kind`` as backed up (its dependencies' keys)."""
        return self.shape.api_version

    @property
    def kind(self) -> str:
        return self.shape.kind

    @property
    def excluded(self) -> str | None:
        return self.shape.excluded

    @property
    def blob(self) -> str | None:
        return None if self.blob_id is None else self.blob_id.hex()

    @property
    def out_kind(self) -> str:
        """The written object's kind (the commit message counts by it)."""
        return self.shape.out_kind

    @property
    def credentials(self) -> tuple[str, ...]:
        return self.shape.credentials

    @property
    def refused(self) -> bool:
        """Excluded by the archive's reader (too deep, a path that lies), not by cleaning."""
        return self.shape.refused

    @property
    def unmanaged(self) -> bool:
        """No GitOps tool manages the object (changed by hand)."""
        return self.shape.unmanaged

    def file(self, cluster_root: str, key: str) -> str | None:
        """The file the member became (None: excluded)."""
        if self.blob_id is None:
            return None
        return self.path if self.path is not None else natural_path(cluster_root, key)

    def unmanaged_name(self, namespace: str | None, name: str) -> str | None:
        """``Kind namespace/name`` when the object is unmanaged, as ``pipeline.place`` says it."""
        if not self.shape.unmanaged:
            return None
        return (
            f"{self.shape.out_kind} {namespace}/{name}" if namespace else f"{self.out_kind} {name}"
        )

    def _fields(self) -> tuple[object, ...]:
        return (self.digest, self.shape, self.path, self.blob_id)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MemberRecord) and self._fields() == other._fields()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"MemberRecord{self._fields()!r}"

    def line(self, key: str) -> str:
        """The record as one line of the file: tab-separated, key first."""
        shape = self.shape
        flags = (_REFUSED if shape.refused else "") + (_UNMANAGED if shape.unmanaged else "")
        fields = [
            *key.split("\0"),
            self.digest.hex(),
            shape.api_version,
            shape.kind,
            shape.out_kind,
            flags,
            shape.excluded or "",
            self.path or ("" if self.blob_id is None else _NATURAL),
            "" if self.blob_id is None else self.blob_id.hex(),
            json.dumps(shape.credentials, ensure_ascii=False) if shape.credentials else "",
        ]
        text = "".join(fields)
        if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
            fields = [_escape(value) for value in fields]
        return "\t".join(fields)

    @classmethod
    def of_line(cls, line: str) -> tuple[str, MemberRecord]:
        """The key and record of one line; ValueError when it is not one ``line`` wrote."""
        fields = line.split("\t")
        if len(fields) != _FIELDS:
            raise ValueError("a record has another number of fields")
        if "\\" in line:
            fields = [_unescape(value) for value in fields]
        group, namespace, name, digest, api_version, kind, out_kind = fields[:7]
        flags, excluded, path, blob, credentials = fields[7:]
        if flags not in _FLAGS:
            raise ValueError("unknown flags")
        if (excluded == "") == (path == "" or blob == ""):
            raise ValueError("a record is neither excluded nor written")
        raw = bytes.fromhex(digest)
        if len(raw) != DIGEST_SIZE or (blob and len(blob) != 2 * _BLOB_SIZE):
            raise ValueError("a digest or blob id of another size")
        listed = tuple(json.loads(credentials)) if credentials else ()
        if not all(isinstance(c, str) for c in listed):
            raise ValueError("credentials are not strings")
        record = cls(
            raw,
            api_version,
            kind,
            excluded or None,
            None if path in ("", _NATURAL) else path,
            blob or None,
            out_kind,
            listed,
            _REFUSED in flags,
            _UNMANAGED in flags,
        )
        return f"{group}\0{namespace}\0{name}", record


_FLAGS: Final = frozenset({"", _REFUSED, _UNMANAGED, _REFUSED + _UNMANAGED})
_ESCAPES: Final = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}
_UNESCAPES: Final = {"\\": "\\", "t": "\t", "n": "\n", "r": "\r"}
_ESCAPED: Final = re.compile(r"[\\\t\n\r]")
_ESCAPE_SEQUENCE: Final = re.compile(r"\\(.?)", re.DOTALL)


def _escape(value: str) -> str:
    return _ESCAPED.sub(lambda match: _ESCAPES[match.group()], value)


def _unescape(value: str) -> str:
    def one(match: re.Match[str]) -> str:
        if match.group(1) not in _UNESCAPES:
            raise ValueError("an unknown escape")
        return _UNESCAPES[match.group(1)]

    return _ESCAPE_SEQUENCE.sub(one, value)


@dataclass
class MemberCache:
    settings: str
    index: dict[str, str] = field(default_factory=dict)
    """Fingerprints of the backup's cross-object facts (``index_fingerprints``)."""
    members: dict[str, MemberRecord] = field(default_factory=dict)

    def dump(self, *, drain: bool = False) -> bytes:
        """Deterministic bytes: the same cache is the same blob (an unchanged backup writes
        none). A header line (JSON: format, settings, index), then one tab-separated line per
        member, sorted by key: diffable, and read back one line at a time. Written into one
        buffer, line by line (no list of lines beside it); ``drain`` empties ``members`` as
        it goes, so the records' memory falls while the buffer's grows."""
        header = {
            "format": FORMAT,
            "settings": self.settings,
            "index": dict(sorted(self.index.items())),
        }
        out = io.BytesIO()
        out.write(_line(header).encode())
        out.write(b"\n")
        members = self.members
        take = members.pop if drain else members.__getitem__
        for key in sorted(members):
            out.write(take(key).line(key).encode(errors="surrogateescape"))
            out.write(b"\n")
        return out.getvalue()

    @classmethod
    def parse(cls, data: bytes | None) -> MemberCache | None:
        """The cache in ``data``; None when there is none, it is of another format, or it
        cannot be trusted whole. Never raises."""
        if not data:
            return None
        try:
            stream = io.BytesIO(data)  # shares ``data``'s buffer: no copy of the file
            header = json.loads(stream.readline())
            if not isinstance(header, dict) or header.get("format") != FORMAT:
                return None
            settings, index = header["settings"], header["index"]
            if not isinstance(settings, str) or not isinstance(index, dict):
                return None
            if not all(isinstance(v, str) for v in index.values()):
                return None
            of_line = MemberRecord.of_line
            members = dict(
                of_line(line.decode(errors="surrogateescape").rstrip("\n"))
                for line in stream
                if line != b"\n"
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
    if record.excluded is not None:
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
