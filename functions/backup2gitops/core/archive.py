"""Streaming reader and writer of a backup tarball in Velero's inner layout.

PURE: no I/O of its own. It reads from and writes to a binary file-like object the caller passes
in; where the bytes come from (object store, file, memory) is the caller's business.

Inner layout (vmware-tanzu/velero: pkg/archive/filesystem.go ``GetVersionedItemFilePath``,
pkg/backup/item_backupper.go, pkg/backup/backup.go ``writeBackupVersion``)::

    metadata/version                                              "1.1.0\\n" (old Velero: "1\\n")
    resources/<resource>[.<group>]/cluster/<name>.json
    resources/<resource>[.<group>]/namespaces/<ns>/<name>.json
    resources/<resource>[.<group>]/<version>-preferredversion/{cluster,namespaces/<ns>}/<name>.json
    resources/<resource>[.<group>]/<version>/{cluster,namespaces/<ns>}/<name>.json

Order of entries in a real Velero tarball, and what the reader makes of it:

* ``metadata/version`` is the first entry (written before any item). The reader requires it before
  the first ``resources/`` entry, so it can refuse an unknown format before emitting anything.
* Velero writes the files of one object back to back: first the unversioned copy, then the same
  bytes under ``<v>-preferredversion/`` (only when the object was read in the group's preferred
  version). Items a plugin adds for an object (a Pod's PVC, ...) come just before that object.
* With the EnableAPIGroupVersions feature, each non-preferred version of a group is listed
  separately, so its ``<v>/`` copies land wherever that list was walked: before or after the
  preferred copies. The finalize step may rewrite the tarball and append updated items at the end.

So the reader cannot rely on order beyond ``metadata/version`` first. It keeps one set of the
object keys (group-resource, namespace, name) it has emitted -- never the objects -- and:

* emits the unversioned copy or the ``<v>-preferredversion`` copy, whichever comes first (they hold
  the same bytes), and skips the other as a duplicate. An object present ONLY under
  ``<v>-preferredversion/`` is therefore still emitted;
* never emits a non-preferred ``<v>/`` copy: every object Velero backs up is also written in its
  preferred version. A key seen only under non-preferred versions is reported in
  ``ReadReport.warnings`` at the end (its bytes are gone by then: streaming keeps no objects).

Safety: member names must be relative and free of ``..``, empty segments, backslashes and NUL;
links (symbolic or hard) and devices are refused; directory entries are skipped (Velero writes
none, but its own extractor accepts them and GNU tar writes them); a member larger than
``max_member_bytes`` is refused before it is read. The gzip layer is ours (not tarfile's), so its
CRC and length are checked, the tar's end-of-archive marker (two zero blocks) is required, and
a stream that ends early -- even at a member boundary -- or that carries data after a corrupt
header is an ``ArchiveError("truncated")``.

The writer is deterministic: the same objects added in the same order give the same bytes
(mtime 0 in the tar headers and in the gzip header, uid/gid 0, no user names, sorted JSON keys,
no file name in the gzip header). That is why it layers ``tarfile`` mode ``"w|"`` over its own
``gzip.GzipFile`` rather than using ``"w|gz"``, which stamps the current time into the gzip header.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import json
import re
import tarfile
import zlib
from collections.abc import Container, Iterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, BinaryIO, Literal, cast

from backup2gitops.core import repo_layout
from backup2gitops.core.errors import Backup2GitopsError

__all__ = [
    "DEFAULT_MAX_MEMBER_BYTES",
    "FORMAT_VERSION",
    "MAX_EXTENDED_HEADERS",
    "MAX_HEADER_BYTES",
    "MAX_JSON_DEPTH",
    "MAX_REFUSALS_LISTED",
    "PREFERRED_VERSION_SUFFIX",
    "SUPPORTED_MAJOR_VERSIONS",
    "ArchiveError",
    "ArchiveLimits",
    "ArchiveWriter",
    "BackupItem",
    "Entry",
    "Member",
    "ReadReport",
    "check_format_version",
    "item_of",
    "item_path",
    "iter_items",
    "iter_members",
    "json_depth",
    "path_refusal",
]

FORMAT_VERSION = "1.1.0"
SUPPORTED_MAJOR_VERSIONS = frozenset({"1"})
PREFERRED_VERSION_SUFFIX = "-preferredversion"
DEFAULT_MAX_MEMBER_BYTES = 8 * 1024 * 1024
"""Far above what the API server stores for one object (etcd's default request limit is 1.5 MiB)."""
MAX_HEADER_BYTES = 64 * 1024
"""The most a GNU long-name/long-link block or a pax header may hold. tarfile reads such a block
whole, into memory, before it returns the member it describes (a 1 GiB one cost 2.1 GB of RSS):
its size is checked on the 512-byte header, before a byte of it is read. Velero's names are at
most ~600 bytes (resources/<resource.group>/namespaces/<ns>/<name>.json)."""
MAX_EXTENDED_HEADERS = 16
"""Extended headers (``L``, ``K``, ``x``, ``g``) in a row before one member: tarfile handles each by
calling itself again, so an endless chain would end as a RecursionError. GNU tar writes at most
two (``L`` and ``K``), Go's and Python's one pax header."""
MAX_REFUSALS_LISTED = 1000
MAX_JSON_DEPTH = 100
"""Nesting an object may have (objects and arrays). The API server's deepest real objects, CRD
schemas, stay far below; the cleaning and YAML writing recurse per level, and Python stops at
~1000 frames, so a deeper object is refused on its own (``BackupItem.refused``), before it can
fail the whole backup."""

VERSION_MEMBER = "metadata/version"
RESOURCES_DIR = "resources"
CLUSTER_DIR = "cluster"
NAMESPACES_DIR = "namespaces"

_CHUNK = 64 * 1024

ArchiveErrorCode = Literal[
    "truncated",
    "unsafe_path",
    "link",
    "not_regular",
    "too_large",
    "limit_exceeded",
    "invalid_json",
    "unsupported_version",
]


class ArchiveError(Backup2GitopsError):
    """A tarball that cannot be read safely; ``reason`` says why (one of ``ArchiveErrorCode``),
    ``code`` is ``archive_<reason>``. Permanent: the same bytes fail the same way."""

    def __init__(self, reason: ArchiveErrorCode, message: str) -> None:
        super().__init__(message, code=f"archive_{reason}")
        self.args = (f"{reason}: {message}",)
        self.reason: ArchiveErrorCode = reason


@dataclass(frozen=True)
class ArchiveLimits:
    """What one archive may cost to read, enforced while streaming (before the cost is paid).

    ``max_entries`` counts every tar member (Velero writes two per object: the plain and the
    preferred-version copy), ``max_member_bytes`` one member, ``max_total_bytes`` the
    decompressed tar stream, ``max_ratio`` decompressed / compressed bytes once more than
    ``ratio_floor_bytes`` came out (JSON compresses 5-20x; a decompression bomb 1000x).
    A breach is ``ArchiveError("limit_exceeded")`` (``too_large`` for one member).
    """

    max_entries: int = 500_000
    max_member_bytes: int = DEFAULT_MAX_MEMBER_BYTES
    max_total_bytes: int = 4 * 1024**3
    max_ratio: float = 200.0
    ratio_floor_bytes: int = 16 * 1024 * 1024


class _Metered:
    """Counts the bytes read through it; checks the total and the compression ratio."""

    def __init__(self, stream: Any, *, limits: ArchiveLimits, compressed: _Metered | None) -> None:
        self._stream = stream
        self._limits = limits
        self._compressed = compressed
        self.count = 0

    def read(self, size: int = -1, /) -> bytes:
        data: bytes = self._stream.read(size)
        self.count += len(data)
        if self._compressed is not None:
            limits = self._limits
            if self.count > limits.max_total_bytes:
                raise ArchiveError(
                    "limit_exceeded",
                    f"more than {limits.max_total_bytes} bytes once decompressed "
                    "(archive_limits.max_total_bytes)",
                )
            packed = max(self._compressed.count, 1)
            if self.count > limits.ratio_floor_bytes and self.count / packed > limits.max_ratio:
                raise ArchiveError(
                    "limit_exceeded",
                    f"decompresses {self.count / packed:.0f}x, more than {limits.max_ratio:g}x "
                    "(archive_limits.max_ratio)",
                )
        return data

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


@dataclass(frozen=True)
class BackupItem:
    """One object of a backup, as the API server returned it."""

    group_resource: str
    """``<resource>[.<group>]``, e.g. ``deployments.apps``, ``configmaps``."""
    namespace: str | None
    """None for cluster-scoped objects."""
    name: str
    """From the file name, without ``.json``."""
    obj: dict[str, Any]
    refused: str | None = None
    """Why this one object must not be written, when the reader refused it on its own (too deeply
    nested, a path that lies about the object, a name no file can have); ``obj`` is then empty.
    The item still counts as read (``ReadReport.items``): one hostile object is excluded with its
    reason, it never fails the backup nor makes it look incomplete."""


@dataclass
class ReadReport:
    """What ``iter_items`` saw besides the items; filled in as the stream is read."""

    format_version: str | None = None
    items: int = 0
    duplicates_skipped: int = 0
    other_versions_skipped: int = 0
    warnings: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    """One line per refused item (``BackupItem.refused``): its member name and the reason; the
    first ``MAX_REFUSALS_LISTED`` of them (a hostile archive may refuse every object)."""
    refused_total: int = 0
    """Every refused item, listed or not."""


def check_format_version(raw: bytes) -> str:
    """Validate the content of ``metadata/version``; return the version, e.g. ``"1.1.0"``."""
    try:
        text = raw.decode("ascii").strip()
    except UnicodeDecodeError:
        raise ArchiveError("unsupported_version", "metadata/version is not ASCII") from None
    parts = text.split(".")
    if not text or len(parts) > 3 or not all(part.isdigit() for part in parts):
        raise ArchiveError("unsupported_version", f"metadata/version {text[:40]!r} is malformed")
    if str(int(parts[0])) not in SUPPORTED_MAJOR_VERSIONS:
        raise ArchiveError(
            "unsupported_version",
            f"backup format {text} is not supported (major versions: "
            f"{', '.join(sorted(SUPPORTED_MAJOR_VERSIONS))})",
        )
    return text


def _check_segment(value: str, *, what: str) -> str:
    if not value or value in {".", ".."} or any(char in value for char in "/\\\x00"):
        raise ArchiveError("unsafe_path", f"invalid {what} {value!r} for a member name")
    return value


def item_path(
    *,
    group_resource: str,
    namespace: str | None,
    name: str,
    version_dir: str | None = None,
) -> str:
    """The member name of one object; ``version_dir`` e.g. ``v1`` or ``v1-preferredversion``."""
    parts = [RESOURCES_DIR, _check_segment(group_resource, what="group_resource")]
    if version_dir is not None:
        parts.append(_check_segment(version_dir, what="version directory"))
    if namespace is None:
        parts.append(CLUSTER_DIR)
    else:
        parts += [NAMESPACES_DIR, _check_segment(namespace, what="namespace")]
    parts.append(_check_segment(name, what="name") + ".json")
    return "/".join(parts)


# --------------------------------------------------------------------------------------- reader

Copy = Literal["unversioned", "preferred", "other"]


@dataclass(frozen=True, slots=True)
class Entry:
    """Where a member says its object belongs: its group-resource, namespace and name."""

    group_resource: str
    namespace: str | None
    name: str
    copy: Copy


def _safe_name(raw: str) -> str:
    if raw in {".", "./"}:  # the root directory entry GNU tar writes for "tar -C dir ."
        return "."
    name = raw[2:] if raw.startswith("./") else raw
    segments = name.rstrip("/").split("/")
    if (
        not name
        or name.startswith("/")
        or "\\" in name
        or "\x00" in name
        or any(segment in {"", ".", ".."} for segment in segments)
    ):
        raise ArchiveError("unsafe_path", f"unsafe member name {raw[:200]!r}")
    return name


def _classify(name: str) -> Entry | None:
    """Map a ``resources/...`` member name to an entry; None when it is not an item file."""
    parts = name.split("/")
    if len(parts) < 4 or parts[0] != RESOURCES_DIR or not parts[-1].endswith(".json"):
        return None
    group_resource, rest = parts[1], parts[2:]
    copy: Copy = "unversioned"
    if rest[0] not in {CLUSTER_DIR, NAMESPACES_DIR}:
        copy = "preferred" if rest[0].endswith(PREFERRED_VERSION_SUFFIX) else "other"
        rest = rest[1:]
    item_name = rest[-1].removesuffix(".json")
    if not item_name:
        return None
    if len(rest) == 2 and rest[0] == CLUSTER_DIR:
        return Entry(group_resource, None, item_name, copy)
    if len(rest) == 3 and rest[0] == NAMESPACES_DIR:
        return Entry(group_resource, rest[1], item_name, copy)
    return None


def _forget_members(tar: tarfile.TarFile) -> None:
    """Drop tarfile's list of every TarInfo seen so far (it keeps one even in stream mode).

    ``TarFile.members`` is undocumented but stable since Python 2; only ``getmembers`` and
    random access use it, and stream mode supports neither. Memory then stays flat.
    """
    cast("Any", tar).members.clear()


def _check_member(member: tarfile.TarInfo, name: str, max_member_bytes: int) -> bool:
    """Raise for members that must not be in a backup; False for ones to skip (directories)."""
    if member.issym() or member.islnk():
        raise ArchiveError("link", f"link member {name[:200]!r} -> {member.linkname[:200]!r}")
    if member.isdir():
        return False
    if not member.isreg() or member.issparse():
        raise ArchiveError("not_regular", f"member {name[:200]!r} is not a regular file")
    if member.size > max_member_bytes:
        raise ArchiveError(
            "too_large",
            f"member {name[:200]!r} has {member.size} bytes, limit {max_member_bytes}",
        )
    return True


def _read_member(tar: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    """The member's bytes, read straight from the stream (a regular file: ``_check_member``),
    without tarfile's ``extractfile`` object per member (a third of the reading's time)."""
    stream = cast("Any", tar.fileobj)  # tarfile's _Stream in "r|" mode: forward reads
    if stream.tell() != member.offset_data:
        stream.seek(member.offset_data)
    data: bytes = stream.read(member.size)
    if len(data) != member.size:
        raise ArchiveError("truncated", f"member {member.name[:200]!r} ends early")
    return data


def _decode(data: bytes, name: str) -> dict[str, Any] | str:
    """The object, or why this one object is refused (nested too deeply to be handled)."""
    try:
        obj = json.loads(data)
    except RecursionError:  # the parser recurses per level: ~1000 of them stop it
        return f"too_deep: nested more than {MAX_JSON_DEPTH} levels"
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        raise ArchiveError("invalid_json", f"{name[:200]}: {exc}") from None
    if not isinstance(obj, dict):
        raise ArchiveError("invalid_json", f"{name[:200]}: not a JSON object")
    # fewer opening brackets than the limit (nearly every object): it cannot be deeper
    encoding = json.detect_encoding(data)  # json.loads reads UTF-16 and UTF-32 too
    if not encoding.startswith("utf-8"):
        data = data.decode(encoding).encode()
    if data.count(b"{") + data.count(b"[") > MAX_JSON_DEPTH and json_depth(data) > MAX_JSON_DEPTH:
        return f"too_deep: nested more than {MAX_JSON_DEPTH} levels"
    return cast("dict[str, Any]", obj)


_AS_PARENTHESES = bytes.maketrans(b"[{]}", b"(())")
_PEELED_LEVELS = 8
_RUNS = re.compile(rb"\(+|\)+")
_OPEN = ord("(")
_NOT_STRUCTURE = bytes(sorted(set(range(256)) - set(b'[]{}"')))


def json_depth(data: bytes, *, limit: int = MAX_JSON_DEPTH) -> int:
    """The nesting of a valid JSON document (a scalar is 0, ``{}`` 1), or ``limit + 1`` when it is
    deeper than ``limit``: without recursion and without a Python step per value.

    Strings go (their brackets are text): escaped backslashes, then escaped quotes; then all
    but brackets and quotes; then empty strings (``""``, nearly all of them by now), and the
    segments between the quotes that remain. The brackets become parentheses, and each pass of
    ``bytes.replace`` removes the innermost pairs, one level: bushy documents shrink fast. After
    a few passes what is left is deep and narrow, and the deepest point of its runs of ``(`` and
    ``)`` is the rest of the depth. Every step is one call over bytes, at memory speed; only
    documents with more than ``limit`` brackets are checked at all (``_decode``).
    """
    unescaped = data.replace(b"\\\\", b"").replace(b'\\"', b"")
    skeleton = unescaped.translate(None, _NOT_STRUCTURE).replace(b'""', b"")
    if b'"' in skeleton:  # strings holding brackets
        skeleton = b"".join(skeleton.split(b'"')[::2])
    nesting = skeleton.translate(_AS_PARENTHESES)
    peeled = 0
    while nesting and peeled < _PEELED_LEVELS:
        nesting = nesting.replace(b"()", b"")
        peeled += 1
    deepest = level = 0
    for run in _RUNS.findall(nesting):  # what is left is deep and narrow: few runs
        level += len(run) if run[0] == _OPEN else -len(run)
        deepest = max(deepest, level)
    return min(peeled + deepest, limit + 1)


_CLUSTER_SCOPED_KINDS: frozenset[tuple[str, str]] = frozenset(
    {
        ("", "Namespace"),
        ("", "Node"),
        ("", "PersistentVolume"),
        ("rbac.authorization.k8s.io", "ClusterRole"),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
        ("networking.k8s.io", "IngressClass"),
        ("storage.k8s.io", "CSIDriver"),
        ("storage.k8s.io", "CSINode"),
        ("storage.k8s.io", "StorageClass"),
        ("storage.k8s.io", "VolumeAttachment"),
        ("apiextensions.k8s.io", "CustomResourceDefinition"),
        ("apiregistration.k8s.io", "APIService"),
        ("scheduling.k8s.io", "PriorityClass"),
        ("node.k8s.io", "RuntimeClass"),
        ("certificates.k8s.io", "CertificateSigningRequest"),
        ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"),
        ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"),
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"),
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding"),
        ("flowcontrol.apiserver.k8s.io", "FlowSchema"),
        ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration"),
        ("snapshot.storage.k8s.io", "VolumeSnapshotClass"),
        ("snapshot.storage.k8s.io", "VolumeSnapshotContent"),
    }
)
"""Well-known kinds that have no namespace: one filed under ``namespaces/`` is lying."""
_RESOURCES_OF_GROUP: dict[str, frozenset[str]] = {}
for (_group, _kind), _resource in repo_layout.WELL_KNOWN.items():
    _RESOURCES_OF_GROUP[_group] = _RESOURCES_OF_GROUP.get(_group, frozenset()) | {_resource}


def path_refusal(entry: Entry, obj: dict[str, Any]) -> str | None:
    """Why the member's path is not to be trusted for ``obj``, or None.

    The repository folder comes from the member's path (``<resource.group>/<ns>/<name>``), which
    whoever wrote the archive chose; the object says what it is. They must agree, or the object
    could be committed where no rule looks (a ClusterRoleBinding filed as a ConfigMap): the
    apiVersion's group is the path's group; a well-known kind sits in its own resource folder
    (and a well-known resource folder holds only its own kind); a well-known cluster-scoped kind
    has no namespace; ``metadata.namespace`` and ``metadata.name``, when given, are the path's.
    A kind this table does not know may have any plural (a CRD's ``spec.names.plural``).
    Names that cannot be a path segment (``repo_layout.check_segment``) are refused here too.
    """
    try:
        for value, what in (
            (entry.group_resource, "group-resource"),
            (entry.namespace, "namespace"),
            (entry.name, "name"),
        ):
            if value is not None:
                repo_layout.check_segment(value, what=what)
    except repo_layout.UnsafeName as exc:
        return f"unsafe_name: {exc}"
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    if not isinstance(api_version, str) or not isinstance(kind, str):
        return None  # no object at all: the cleaning says so ("invalid: no kind")
    if isinstance(obj.get("items"), list) and kind.endswith("List"):
        return f"path_mismatch: a {kind[:60]!r} is a list of objects, which nothing stores"
    group = api_version.rpartition("/")[0]
    resource, _, path_group = entry.group_resource.partition(".")
    described = f"{kind[:60]!r} of {api_version[:60]!r}"
    if path_group != group:
        return (
            f"path_mismatch: filed under {entry.group_resource[:80]!r}, the object is a {described}"
        )
    known = repo_layout.WELL_KNOWN.get((group, kind))
    if known != resource and (known is not None or resource in _RESOURCES_OF_GROUP.get(group, ())):
        return (
            f"path_mismatch: filed under {entry.group_resource[:80]!r}, the object is a {described}"
        )
    if entry.namespace is not None and (group, kind) in _CLUSTER_SCOPED_KINDS:
        return f"path_mismatch: filed in namespace {entry.namespace[:63]!r}, a {described} has none"
    metadata = obj.get("metadata")
    if isinstance(metadata, dict):
        namespace, name = metadata.get("namespace"), metadata.get("name")
        if namespace not in (None, "", entry.namespace):
            return f"path_mismatch: filed in namespace {entry.namespace!r}, the object's is {str(namespace)[:63]!r}"
        if isinstance(name, str) and name and name != entry.name:
            return (
                f"path_mismatch: filed as {entry.name[:80]!r}, the object's name is {name[:80]!r}"
            )
    return None


class _StrictTarInfo(tarfile.TarInfo):
    """A TarInfo whose header parsing refuses what tarfile would take for a quiet end of archive.

    In the middle of a stream, tarfile treats a missing, short or corrupt header block as the end
    of the archive. Only a block of zeros (the end-of-archive marker) may end it here.
    """

    @classmethod
    def frombuf(cls, buf: bytes | bytearray, encoding: str, errors: str) -> _StrictTarInfo:
        try:
            return cls._lean(buf, encoding, errors) or super().frombuf(buf, encoding, errors)
        except tarfile.HeaderError as exc:
            if len(buf) == tarfile.BLOCKSIZE and not buf.strip(b"\x00"):
                raise  # a zero block: the end-of-archive marker
            raise ArchiveError("truncated", f"bad tar header: {exc}") from None

    @classmethod
    def _lean(cls, buf: bytes | bytearray, encoding: str, errors: str) -> _StrictTarInfo | None:
        """``TarInfo.frombuf`` for the one header nearly every member of a backup has (a POSIX
        ustar regular file, or a pax header): only the fields the reader uses are parsed (name,
        size, type, link name, prefix), after the same checksum check. None for anything else,
        or anything unusual in those fields (tarfile's own parsing then decides): reading a
        header costs half as much."""
        kind = bytes(buf[156:157])
        if len(buf) != tarfile.BLOCKSIZE or kind not in _LEAN_TYPES or buf[257:263] != b"ustar\0":
            return None
        checksum, size = _octal(buf[148:156]), _octal(buf[124:136])
        if checksum is None or size is None:
            return None
        if checksum != 256 + sum(buf[:148]) + sum(buf[156:]):  # signed sums: tarfile's parsing
            return None
        name = _text(buf[0:100], encoding, errors)
        if name.endswith("/"):  # a directory written as a file: tarfile's parsing
            return None
        prefix = _text(buf[345:500], encoding, errors)
        info = cls(prefix + "/" + name if prefix else name)
        info.size = size
        info.chksum = checksum
        info.type = kind
        info.linkname = _text(buf[157:257], encoding, errors)
        return info

    # tarfile's private hooks (stable since Python 3.2): ``_proc_member`` is called on each header
    # block before anything that follows it is read; extended headers call ``fromtarfile`` again.
    def _proc_member(self, tarfile: tarfile.TarFile) -> Any:
        """Refuse, on the 512-byte header alone, what tarfile would read whole into memory."""
        if self.type == GNUTYPE_SPARSE:  # its map blocks chain on, unbounded, before the data
            raise ArchiveError("not_regular", "an old GNU sparse member")
        if self.type not in _EXTENDED_TYPES:
            cast("Any", tarfile)._b2g_chain = 0
            return super()._proc_member(tarfile)  # type: ignore[misc]
        what = _EXTENDED_TYPES[self.type]
        if self.size > MAX_HEADER_BYTES:
            raise ArchiveError(
                "too_large",
                f"a {what} of {self.size} bytes, limit {MAX_HEADER_BYTES} "
                "(tarfile would read it whole before the member it describes)",
            )
        chain = getattr(tarfile, "_b2g_chain", 0) + 1
        if chain > MAX_EXTENDED_HEADERS:
            raise ArchiveError(
                "limit_exceeded", f"more than {MAX_EXTENDED_HEADERS} extended headers in a row"
            )
        cast("Any", tarfile)._b2g_chain = chain
        member = super()._proc_member(tarfile)  # type: ignore[misc]
        if self.type == XGLTYPE and _pax_size(tarfile.pax_headers) > MAX_HEADER_BYTES:
            raise ArchiveError(  # global headers accumulate: each one small, all of them not
                "too_large", f"global pax headers of more than {MAX_HEADER_BYTES} bytes"
            )
        return member

    def _proc_gnusparse_10(self, next: Any, pax_headers: Any, tarfile: Any) -> None:
        """A pax 1.0 sparse file keeps its map in the data, as long as the header says: refused
        before the map is read (no sparse member is a backup item anyway)."""
        raise ArchiveError("not_regular", "a GNU sparse 1.0 member")


GNUTYPE_SPARSE = tarfile.GNUTYPE_SPARSE
XGLTYPE = tarfile.XGLTYPE
_EXTENDED_TYPES: dict[bytes, str] = {
    tarfile.GNUTYPE_LONGNAME: "GNU long-name block",
    tarfile.GNUTYPE_LONGLINK: "GNU long-link block",
    tarfile.XHDTYPE: "pax header",
    tarfile.XGLTYPE: "global pax header",
    tarfile.SOLARIS_XHDTYPE: "Solaris extended header",
}


_LEAN_TYPES = frozenset({tarfile.REGTYPE, tarfile.XHDTYPE})


def _text(field: bytes | bytearray, encoding: str, errors: str) -> str:
    """A NUL-terminated header field, as tarfile's ``nts`` decodes it."""
    end = field.find(b"\0")
    return bytes(field if end == -1 else field[:end]).decode(encoding, errors)


def _octal(field: bytes | bytearray) -> int | None:
    """A plain octal header number; None for base-256 or anything tarfile should judge."""
    if field[:1] in (b"\x80", b"\xff"):
        return None
    end = field.find(b"\0")
    text = bytes(field if end == -1 else field[:end]).strip()
    if not text:
        return 0
    try:
        return int(text, 8)
    except ValueError:
        return None


def _pax_size(headers: Any) -> int:
    return sum(len(key) + len(value) for key, value in headers.items())


def _drain_trailer(tar: tarfile.TarFile) -> None:
    """After the end-of-archive block: only zeros may follow, and the gzip stream must end cleanly.

    tarfile has consumed the first zero block at ``tar.offset``; Go's, GNU's and Python's tar all
    write two, so at least 1024 zero bytes must follow the last member.
    """
    stream = cast("Any", tar.fileobj)  # tarfile's internal _Stream in "r|" mode: forward seeks
    if stream.tell() < tar.offset:
        stream.seek(tar.offset)
    trailer = stream.tell() - tar.offset
    while chunk := stream.read(_CHUNK):
        if chunk.strip(b"\x00"):
            raise ArchiveError("truncated", "data after the end-of-archive marker")
        trailer += len(chunk)
    if trailer < 2 * tarfile.BLOCKSIZE:
        raise ArchiveError("truncated", "the tar stream ends without its end-of-archive marker")


@dataclass(frozen=True)
class Member:
    """One item's member, read but not decoded: where it belongs, its name and its raw bytes
    (the generator hashes these to decide whether the member needs decoding at all)."""

    entry: Entry
    name: str
    data: bytes


def iter_members(
    stream: BinaryIO,
    *,
    report: ReadReport | None = None,
    limits: ArchiveLimits | None = None,
    only: Container[str] | None = None,
) -> Iterator[Member]:
    """Each item's member of a gzip-compressed backup tarball once, in one streaming pass,
    undecoded (``item_of`` decodes one). ``iter_items`` is this plus the decoding; the checks,
    limits, duplicate handling and ``report`` counts are the same (``report.items`` counts the
    members yielded)."""
    report = report if report is not None else ReadReport()
    limits = limits or ArchiveLimits()
    max_member_bytes = limits.max_member_bytes
    emitted: set[bytes] = set()
    other_only: set[tuple[str, str, str]] = set()
    compressed = _Metered(stream, limits=limits, compressed=None)
    entries = 0
    try:
        with (
            gzip.GzipFile(fileobj=cast("BinaryIO", compressed), mode="rb") as unzipped,
            tarfile.open(
                fileobj=cast("BinaryIO", _Metered(unzipped, limits=limits, compressed=compressed)),
                mode="r|",
                tarinfo=_StrictTarInfo,
            ) as tar,
        ):
            while (member := tar.next()) is not None:
                _forget_members(tar)
                entries += 1
                if entries > limits.max_entries:
                    raise ArchiveError(
                        "limit_exceeded",
                        f"more than {limits.max_entries} entries (archive_limits.max_entries)",
                    )
                name = _safe_name(member.name)
                if not _check_member(member, name, max_member_bytes):
                    continue
                if name == VERSION_MEMBER:
                    report.format_version = check_format_version(_read_member(tar, member))
                    continue
                if name.split("/", 1)[0] != RESOURCES_DIR:
                    report.warnings.append(f"ignored member {name[:200]!r} outside resources/")
                    continue
                if report.format_version is None:
                    raise ArchiveError(
                        "unsupported_version", "metadata/version missing before resources/"
                    )
                entry = _classify(name)
                if entry is None:
                    report.warnings.append(f"ignored member {name[:200]!r}: not an item path")
                    continue
                if only is not None and entry.group_resource not in only:
                    continue
                key = (entry.group_resource, entry.namespace or "", entry.name)
                digest = _digest(key)
                if entry.copy == "other":
                    report.other_versions_skipped += 1
                    if digest not in emitted:
                        other_only.add(key)
                    continue
                if digest in emitted:
                    report.duplicates_skipped += 1
                    continue
                data = _read_member(tar, member)
                emitted.add(digest)
                other_only.discard(key)
                report.items += 1
                yield Member(entry, name, data)
            _drain_trailer(tar)
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise ArchiveError("truncated", f"unreadable tarball: {exc}") from None
    if report.format_version is None:
        raise ArchiveError("unsupported_version", "metadata/version missing")
    for group_resource, namespace, name in sorted(
        k for k in other_only if _digest(k) not in emitted
    ):
        where = f"{namespace}/{name}" if namespace else name
        report.warnings.append(
            f"{group_resource} {where} is only in non-preferred API versions; skipped"
        )


def item_of(member: Member, report: ReadReport | None = None) -> BackupItem:
    """The item a member holds: its decoded object, or (refused on its own: too deep, a path
    that lies) an empty one with the reason, listed in ``report``."""
    entry = member.entry
    decoded = _decode(member.data, member.name)
    refused = decoded if isinstance(decoded, str) else path_refusal(entry, decoded)
    if refused is None and not isinstance(decoded, str):
        return BackupItem(entry.group_resource, entry.namespace, entry.name, decoded)
    if report is not None:
        report.refused_total += 1
        if len(report.refused) < MAX_REFUSALS_LISTED:
            report.refused.append(f"{member.name[:200]!r}: {refused}")
    return BackupItem(entry.group_resource, entry.namespace, entry.name, {}, refused)


def iter_items(
    stream: BinaryIO,
    *,
    max_member_bytes: int | None = None,
    report: ReadReport | None = None,
    limits: ArchiveLimits | None = None,
    only: Container[str] | None = None,
) -> Iterator[BackupItem]:
    """Yield each object of a gzip-compressed backup tarball once, in one streaming pass.

    ``only`` (group-resources, e.g. ``statefulsets.apps``) limits the pass to those folders:
    every other member is checked and skipped unread.

    Memory stays bounded by one member plus the set of emitted keys (a 16-byte digest each).
    ``limits`` bound entries, member size, decompressed size and ratio. Raises ``ArchiveError``;
    items already yielded before an error stay yielded, so a caller that must be all-or-nothing
    collects first or writes to a staging area. Pass a ``ReadReport`` to learn the format version,
    counts and warnings.
    """
    report = report if report is not None else ReadReport()
    limits = limits or ArchiveLimits()
    if max_member_bytes is not None:
        limits = dataclasses.replace(limits, max_member_bytes=max_member_bytes)
    for member in iter_members(stream, report=report, limits=limits, only=only):
        yield item_of(member, report)


def _digest(key: tuple[str, str, str]) -> bytes:
    """An object key as 16 bytes: the emitted set costs ~100 bytes an object, not ~300."""
    return hashlib.blake2b("\x00".join(key).encode(), digest_size=16).digest()


# --------------------------------------------------------------------------------------- writer


class _HashingWriter:
    """Counts and hashes the compressed bytes on their way to the caller's stream."""

    def __init__(self, target: BinaryIO) -> None:
        self._target: BinaryIO | None = target
        self._digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes, /) -> int:
        if self._target is not None:
            self._digest.update(data)
            self.size += len(data)
            self._target.write(data)
        return len(data)

    def flush(self) -> None:
        if self._target is not None:
            self._target.flush()

    def detach(self) -> None:
        """Send whatever comes next nowhere: the caller's stream keeps only what it already has."""
        self._target = None

    def hexdigest(self) -> str:
        return self._digest.hexdigest()


def _compact_json(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


class ArchiveWriter:
    """Write a deterministic backup tarball (gzip) to a binary stream; the stream stays open.

    ``metadata/version`` is written on construction. Leaving a ``with`` block by an exception
    does NOT finish the gzip stream, so a half-written backup never reads as a complete one.
    After ``close()``: ``size`` and ``sha256`` describe the compressed bytes written.
    """

    def __init__(self, stream: BinaryIO, *, compresslevel: int = 6) -> None:
        self._out = _HashingWriter(stream)
        self._gzip = gzip.GzipFile(
            filename="", mode="wb", compresslevel=compresslevel, fileobj=self._out, mtime=0
        )
        self._tar = tarfile.open(  # noqa: SIM115 - lives as long as the writer; closed in close()
            fileobj=cast("BinaryIO", self._gzip), mode="w|", format=tarfile.PAX_FORMAT
        )
        self._counts: dict[str, int] = {}
        self._closed = False
        self._write_member(VERSION_MEMBER, f"{FORMAT_VERSION}\n".encode())

    def __enter__(self) -> ArchiveWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abandon()

    @property
    def counts(self) -> dict[str, int]:
        """Objects added per group_resource (duplicates under version folders not counted)."""
        return dict(sorted(self._counts.items()))

    @property
    def size(self) -> int:
        return self._out.size

    @property
    def sha256(self) -> str:
        return self._out.hexdigest()

    def _write_member(self, name: str, data: bytes) -> None:
        if self._closed:
            raise ValueError("ArchiveWriter is closed")
        info = tarfile.TarInfo(name)
        info.size = len(data)
        info.mtime = 0
        info.mode = 0o644
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        info.type = tarfile.REGTYPE
        self._tar.addfile(info, io.BytesIO(data))
        _forget_members(self._tar)

    def add(
        self,
        *,
        group_resource: str,
        namespace: str | None,
        name: str,
        obj: dict[str, Any],
        also_preferred_version: str | None = None,
    ) -> None:
        """Add one object; with ``also_preferred_version="v1"`` also write Velero's duplicate."""
        data = _compact_json(obj)
        self._write_member(
            item_path(group_resource=group_resource, namespace=namespace, name=name), data
        )
        if also_preferred_version is not None:
            self._write_member(
                item_path(
                    group_resource=group_resource,
                    namespace=namespace,
                    name=name,
                    version_dir=also_preferred_version + PREFERRED_VERSION_SUFFIX,
                ),
                data,
            )
        self._counts[group_resource] = self._counts.get(group_resource, 0) + 1

    def add_item(self, item: BackupItem, *, also_preferred_version: str | None = None) -> None:
        """``add`` for a ``BackupItem``."""
        self.add(
            group_resource=item.group_resource,
            namespace=item.namespace,
            name=item.name,
            obj=item.obj,
            also_preferred_version=also_preferred_version,
        )

    def close(self) -> None:
        """Finish the tar and gzip streams (idempotent); the caller's stream is left open."""
        if self._closed:
            return
        self._closed = True
        self._tar.close()
        self._gzip.close()
        self._out.flush()

    def abandon(self) -> None:
        """Stop without finishing: the caller's stream never gets the tar and gzip trailers.

        The streams are closed into the void, so no finaliser can complete them later.
        """
        if self._closed:
            return
        self._closed = True
        self._out.detach()
        self._tar.close()
        self._gzip.close()
