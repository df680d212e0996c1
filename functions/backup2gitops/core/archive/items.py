"""A member's bytes as an object: decoded, its depth bounded, its path checked against it.

PURE: no I/O. ``iter_items`` is the reader's ``iter_members`` plus ``item_of`` for each member.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Container, Iterator
from functools import lru_cache
from typing import Any, BinaryIO, Final, cast

from backup2gitops.core import repo_layout
from backup2gitops.core.archive.format import (
    MAX_JSON_DEPTH,
    MAX_REFUSALS_LISTED,
    ArchiveError,
    ArchiveLimits,
    BackupItem,
    Entry,
    Member,
    ReadReport,
)
from backup2gitops.core.archive.reader import iter_members


def _decode(data: bytes, name: str) -> dict[str, Any] | str:
    """The object, or why this one object is refused (nested too deeply to be handled)."""
    utf8 = _plain_utf8(data)
    try:
        obj = _loads_object(data.decode("utf-8", "surrogatepass")) if utf8 else json.loads(data)
    except RecursionError:  # the parser recurses per level: ~1000 of them stop it
        return f"too_deep: nested more than {MAX_JSON_DEPTH} levels"
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        raise ArchiveError("invalid_json", f"{name[:200]}: {exc}") from None
    if not isinstance(obj, dict):
        raise ArchiveError("invalid_json", f"{name[:200]}: not a JSON object")
    if not utf8:  # json.loads reads UTF-16 and UTF-32 too
        encoding = json.detect_encoding(data)
        if not encoding.startswith("utf-8"):
            data = data.decode(encoding).encode()
    # fewer opening brackets than the limit (nearly every object): it cannot be deeper
    if data.count(b"{") + data.count(b"[") > MAX_JSON_DEPTH and json_depth(data) > MAX_JSON_DEPTH:
        return f"too_deep: nested more than {MAX_JSON_DEPTH} levels"
    return cast("dict[str, Any]", obj)


_OPEN_BRACE = ord("{")
_SCAN: Final[Callable[[str, int], tuple[Any, int]]] = vars(json.JSONDecoder())["scan_once"]
"""The scanner ``json.loads`` reads a document's one value with (a default decoder's: C's)."""


def _loads_object(text: str) -> Any:
    """``json.loads(text)`` of a text that starts with ``{``: the scanner reads the object; a text
    it does not read whole (trailing space, extra data, an error) is left to ``json.loads``."""
    try:
        obj, end = _SCAN(text, 0)
    except (StopIteration, ValueError):  # json.loads raises its own error for it
        return json.loads(text)
    return obj if end == len(text) else json.loads(text)


def _plain_utf8(data: bytes) -> bool:
    """Whether ``json.detect_encoding`` says UTF-8 without a BOM, as it does for an object
    whose first byte is ``{`` and second is not NUL: then ``json.loads`` would decode the bytes
    as UTF-8 (``surrogatepass``) and the decoding is done here, without asking it again."""
    return len(data) > 1 and data[0] == _OPEN_BRACE and data[1] != 0


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


def _is_utf8(text: str) -> bool:
    """Whether a name read from the archive was UTF-8 (a tar name of other bytes reads with
    them escaped as lone surrogates, which no file name of the repository can hold)."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


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
    refused = _folder_refusal(entry.group_resource, entry.namespace) or _segment_refusal(
        entry.name, "name"
    )
    if refused is not None:
        return refused
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    if not isinstance(api_version, str) or not isinstance(kind, str):
        return None  # no object at all: the cleaning says so ("invalid: no kind")
    if isinstance(obj.get("items"), list) and kind.endswith("List"):
        return f"path_mismatch: a {kind[:60]!r} is a list of objects, which nothing stores"
    group = api_version.rpartition("/")[0]
    resource, _, path_group = entry.group_resource.partition(".")
    if path_group != group:
        return (
            f"path_mismatch: filed under {entry.group_resource[:80]!r}, "
            f"the object is a {_described(kind, api_version)}"
        )
    known = repo_layout.WELL_KNOWN.get((group, kind))
    if known != resource and (known is not None or resource in _RESOURCES_OF_GROUP.get(group, ())):
        return (
            f"path_mismatch: filed under {entry.group_resource[:80]!r}, "
            f"the object is a {_described(kind, api_version)}"
        )
    if entry.namespace is not None and (group, kind) in _CLUSTER_SCOPED_KINDS:
        return (
            f"path_mismatch: filed in namespace {entry.namespace[:63]!r}, "
            f"a {_described(kind, api_version)} has none"
        )
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


def _described(kind: str, api_version: str) -> str:
    return f"{kind[:60]!r} of {api_version[:60]!r}"


@lru_cache(maxsize=4096)  # a backup has a few of each: checked once, not per member
def _folder_refusal(group_resource: str, namespace: str | None) -> str | None:
    """Why the member's group-resource, then its namespace, cannot be a path segment, or None."""
    return _segment_refusal(group_resource, "group-resource") or _segment_refusal(
        namespace, "namespace"
    )


def _segment_refusal(value: str | None, what: str) -> str | None:
    if value is None:
        return None
    try:
        repo_layout.check_segment(value, what=what)
    except repo_layout.UnsafeName as exc:
        return f"unsafe_name: {exc}"
    if not value.isascii() and not _is_utf8(value):
        return f"unsafe_name: the {what} {value[:80]!r} is not UTF-8"
    return None


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
        limits = limits._replace(max_member_bytes=max_member_bytes)
    for member in iter_members(stream, report=report, limits=limits, only=only):
        yield item_of(member, report)
