"""One archive member's record in the member cache (``core.member_cache``): what it became,
held compactly, and its line in the cache file.

Pure: no I/O; only the standard library.

A member is keyed by its object's folder, namespace and name (``member_key``); its record holds
the digest of its raw bytes (``raw_digest``), the file it produced and that file's blob id, or
why it was excluded, and what the commit message counts of it. One tab-separated line per
record (``MemberRecord.line``; ``of_lines`` reads a whole file of them back): diffable.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

DIGEST_SIZE: Final = 16
_BLOB_SIZE: Final = 20  # a SHA-1 object id
_FIELDS: Final = 12
_REFUSED, _UNMANAGED = "r", "u"


def member_key(group_resource: str, namespace: str | None, name: str) -> str:
    """One member's key: the object's folder, namespace and name (NUL cannot be in any)."""
    return f"{group_resource}\0{namespace or ''}\0{name}"


def natural_path(cluster_root: str, key: str) -> str:
    """The file a member's key names when no segment needed escaping (``repo_layout``'s
    common case). A record whose file is this one holds no path (``MemberRecord.file``): at
    50,000 members, 5 MB less in memory and 3 MB less in the file."""
    return natural_file(cluster_root, *key.split("\0"))


def natural_file(cluster_root: str, group_resource: str, namespace: str, name: str) -> str:
    """``natural_path`` of a key's three parts (``namespace``: "" when cluster-scoped)."""
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

    def listed_name(self, namespace: str | None, name: str) -> str:
        """``Kind namespace/name``: how the commit message lists the object when it is
        unmanaged, as ``pipeline.place`` says it."""
        return f"{self.out_kind} {namespace}/{name}" if namespace else f"{self.out_kind} {name}"


_SHAPES: dict[Shape, Shape] = {}


def _shape(shape: Shape) -> Shape:
    if len(_SHAPES) > 4096:  # shapes with credentials are one per object: do not hoard them
        _SHAPES.clear()
    return _SHAPES.setdefault(shape, shape)


_LINE_SHAPES: dict[tuple[str, ...], Shape] = {}
"""A cache line's shape fields, as text -> the interned ``Shape`` they read as."""


def _line_shape(text: tuple[str, ...], shape: Shape) -> Shape:
    if len(_LINE_SHAPES) > 4096:  # bounded as ``_SHAPES`` is
        _LINE_SHAPES.clear()
    interned = _shape(shape)
    _LINE_SHAPES[text] = interned
    return interned


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
        return self.file_of(cluster_root, *key.split("\0"))

    def file_of(
        self, cluster_root: str, group_resource: str, namespace: str, name: str
    ) -> str | None:
        """``file`` of the key's three parts (a pass that split the key already)."""
        if self.blob_id is None:
            return None
        if self.path is not None:
            return self.path
        return natural_file(cluster_root, group_resource, namespace, name)

    def unmanaged_name(self, namespace: str | None, name: str) -> str | None:
        """``Kind namespace/name`` when the object is unmanaged, as ``pipeline.place`` says it."""
        return self.shape.listed_name(namespace, name) if self.shape.unmanaged else None

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
        ((key, record),) = cls.of_lines(line)[0].items()
        return key, record

    @classmethod
    def of_lines(cls, text: str) -> tuple[dict[str, MemberRecord], set[str]]:
        """The records of the lines of ``text`` (a shard file's; blank lines skipped) by key,
        and the namespaces of their keys; ValueError when a line is not one ``line`` wrote.
        Read a field at a time over every line (each field a slice of one list of all of
        them): no call and no list per line, the digests and blob ids unhexed at once."""
        lines = [line for line in text.split("\n") if line]
        if not lines:
            return {}, set()
        if any(line.count("\t") != _FIELDS - 1 for line in lines):
            raise ValueError("a record has another number of fields")
        fields = "\t".join(lines).split("\t")
        if "\\" in text:
            fields = [_unescape(value) for value in fields]
        groups, namespaces, names, digests, api_versions, kinds, out_kinds = (
            fields[column::_FIELDS] for column in range(7)
        )
        flags, excluded, paths, blobs, credentials = (
            fields[column::_FIELDS] for column in range(7, _FIELDS)
        )
        if not _FLAGS.issuperset(flags):
            raise ValueError("unknown flags")
        if any(
            (e == "") == (p == "" or b == "")
            for e, p, b in zip(excluded, paths, blobs, strict=True)
        ):
            raise ValueError("a record is neither excluded nor written")
        raw = _unhexed(digests, DIGEST_SIZE)
        blob_ids = iter(_unhexed([blob for blob in blobs if blob], _BLOB_SIZE))
        # the shape from its fields' text: the lines of one kind share it, read once
        shape_of = _LINE_SHAPES.get
        shapes = [
            shape_of(fields) or _text_shape(fields)
            for fields in zip(
                api_versions, kinds, excluded, out_kinds, credentials, flags, strict=True
            )
        ]
        new = cls.__new__
        found: dict[str, MemberRecord] = {}
        for key, digest, shape, path, blob in zip(
            map("\0".join, zip(groups, namespaces, names, strict=True)),
            raw,
            shapes,
            paths,
            blobs,
            strict=True,
        ):
            record = new(cls)
            record.digest = digest
            record.path = None if path == "" or path == _NATURAL else path
            record.blob_id = next(blob_ids) if blob else None
            record.shape = shape
            found[key] = record
        return found, set(namespaces)


_FLAGS: Final = frozenset({"", _REFUSED, _UNMANAGED, _REFUSED + _UNMANAGED})
_ESCAPES: Final = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}
_UNESCAPES: Final = {"\\": "\\", "t": "\t", "n": "\n", "r": "\r"}
_ESCAPED: Final = re.compile(r"[\\\t\n\r]")
_ESCAPE_SEQUENCE: Final = re.compile(r"\\(.?)", re.DOTALL)


def _unhexed(texts: Sequence[str], size: int) -> list[bytes]:
    """Each of ``texts`` as the ``size`` bytes its hex digits say; ValueError otherwise."""
    if set(map(len, texts)) - {2 * size}:
        raise ValueError("a digest or blob id of another size")
    raw = bytes.fromhex("".join(texts))
    if len(raw) != size * len(texts):  # whitespace between the digits: fewer bytes
        raise ValueError("a digest or blob id of another size")
    return [raw[at : at + size] for at in range(0, len(raw), size)]


def _text_shape(text: tuple[str, str, str, str, str, str]) -> Shape:
    """The shape a line's shape fields (``of_lines``) read as, interned under their text."""
    api_version, kind, excluded, out_kind, credentials, flags = text
    listed = tuple(json.loads(credentials)) if credentials else ()
    if not all(isinstance(c, str) for c in listed):
        raise ValueError("credentials are not strings")
    shape = Shape(
        api_version,
        kind,
        excluded or None,
        out_kind,
        listed,
        _REFUSED in flags,
        _UNMANAGED in flags,
    )
    return _line_shape(text, shape)


def _escape(value: str) -> str:
    return _ESCAPED.sub(lambda match: _ESCAPES[match.group()], value)


def _unescape(value: str) -> str:
    def one(match: re.Match[str]) -> str:
        if match.group(1) not in _UNESCAPES:
            raise ValueError("an unknown escape")
        return _UNESCAPES[match.group(1)]

    return _ESCAPE_SEQUENCE.sub(one, value)
