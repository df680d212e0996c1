"""Commit trailers: their names, how a commit message gets them, and how one is read back.

PURE: no I/O. The one place a commit message is written for its trailers and parsed: the git
adapter reads each commit's whole message (``git log --format=%B``, never ``--grep``) and asks
``parse``; health-aggregator, the flow metrics and drift see only what ``parse`` returned.

git's rules (``git interpret-trailers``): the trailers are the message's last paragraph, every
line of it ``Key: value``; keys are matched exactly (``Backup-Id`` is not ``Backup-Id-2``, and
``Backup-Id: daily`` never matches ``daily-2``). A message whose last paragraph is not all
trailers has none. Values come from people and archives (a kind, a name, a reason): every text
that reaches a message goes through ``clean_text`` first, so a newline in a kind cannot add a
``Cluster: c2`` line to a c1 commit.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import NamedTuple

from backup2gitops.core.errors import Backup2GitopsError

BACKUP_ID = "Backup-Id"
CLUSTER = "Cluster"
BACKUP_CREATED_AT = "Backup-Created-At"
NAMES = (BACKUP_ID, CLUSTER, BACKUP_CREATED_AT)

_KEY = re.compile(r"^([A-Za-z0-9][A-Za-z0-9-]*): ?(.*)$")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")
_LINE_BREAK = re.compile(r"[\r\n\u2028\u2029\x0b\x0c\x85]+")


class UnsafeTrailer(Backup2GitopsError, ValueError):
    """A trailer value that cannot be written as one: empty, or holding a control character."""

    code = "unsafe_trailer"


def clean_text(text: str) -> str:
    """``text`` with no control character left: line breaks become a space, the rest go.
    Tabs are kept (harmless in a message line)."""
    return _CONTROL.sub("", _LINE_BREAK.sub(" ", text))


def clean_line(text: str) -> str:
    """One line of a message (a title, a reason): control characters and line breaks gone."""
    return clean_text(text).replace("\t", " ")


def format_created_at(value: datetime) -> str:
    """``Backup-Created-At``'s value: UTC, ISO 8601, microseconds kept."""
    return value.astimezone(UTC).isoformat()


def parse_created_at(text: str | None) -> datetime | None:
    """A ``Backup-Created-At`` value back to an aware datetime; None when absent or unreadable."""
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def with_trailers(message: str, trailers: Mapping[str, str]) -> str:
    """``message`` (its text cleaned line by line) with ``trailers`` as its last paragraph.

    A value that is empty or holds a control character is refused (``UnsafeTrailer``): the
    backup id and the cluster are checked against their character sets long before, so one
    here is a bug, and writing it would let the value choose trailers of its own.
    """
    for key, value in trailers.items():
        if not _KEY.match(f"{key}: x") or not value or clean_line(value) != value:
            raise UnsafeTrailer(f"{key} {value!r} is empty or has a control character")
    body = "\n".join(clean_text(line) for line in message.rstrip().splitlines())
    return body + "\n\n" + "".join(f"{k}: {v}\n" for k, v in trailers.items())


def parse(message: str) -> dict[str, list[str]]:
    """The trailers of ``message`` (key -> values in order); empty when it has none."""
    paragraphs = re.split(r"\n[ \t]*\n", message.strip("\n"))
    if len(paragraphs) < 2:  # a message that is only trailers is a title, not trailers
        return {}
    return parse_block(paragraphs[-1])


def parse_block(block: str) -> dict[str, list[str]]:
    """Trailer lines (``Key: value``, as ``git log --format=%(trailers:only,unfold)`` gives
    them) -> key -> values; empty when any non-blank line is not a trailer."""
    found: dict[str, list[str]] = {}
    for line in block.splitlines():
        if not line.strip():
            continue
        match = _KEY.match(line)
        if match is None:
            return {}
        found.setdefault(match.group(1), []).append(match.group(2).strip())
    return found


class BackupTrailers(NamedTuple):
    """What a commit's trailers say about the backup it reflects (``Backup-Id`` and ``Cluster``
    present exactly once each; ``created_at`` None on commits made before the trailer existed)."""

    backup_id: str
    cluster: str
    created_at: datetime | None = None


class BackupCommit(NamedTuple):
    """A commit of the branch that stands for one backup (its trailers, parsed)."""

    commit: str
    trailers: BackupTrailers


def backup_trailers(found: Mapping[str, list[str]]) -> BackupTrailers | None:
    """The backup a commit's trailers (``parse``, ``parse_block``) stand for; None when it is
    not one commit of one backup (a key missing or given twice)."""
    ids, clusters = found.get(BACKUP_ID, []), found.get(CLUSTER, [])
    if len(ids) != 1 or len(clusters) != 1 or not ids[0] or not clusters[0]:
        return None
    created = found.get(BACKUP_CREATED_AT, [])
    return BackupTrailers(
        backup_id=ids[0],
        cluster=clusters[0],
        created_at=parse_created_at(created[0]) if len(created) == 1 else None,
    )


def backup_message_trailers(
    *, backup_id: str, cluster: str, created_at: datetime | None
) -> dict[str, str]:
    """The trailers of one backup's commit, in their order."""
    trailers = {BACKUP_ID: backup_id, CLUSTER: cluster}
    if created_at is not None:
        trailers[BACKUP_CREATED_AT] = format_created_at(created_at)
    return trailers
