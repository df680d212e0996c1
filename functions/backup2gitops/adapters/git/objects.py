"""What git makes of a file's content, a commit's message and its author: the rules the
fast-import writer (``fast_import``) and the in-memory repository (``memory``) share, so the
two name the same content, and store the same message, alike (``tests/functional/
test_fast_import.py`` holds each to git itself)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


def blob_id(content: bytes) -> str:
    """The id git gives ``content`` as a blob (SHA-1 object format)."""
    digest = hashlib.sha1(b"blob %d\0" % len(content), usedforsecurity=False)
    digest.update(content)
    return digest.hexdigest()


def cleaned_message(message: str) -> str:
    """The message as ``git commit --cleanup=whitespace`` stores it: trailing whitespace off
    every line, runs of blank lines made one, none at either end, one final newline."""
    lines = [line.rstrip() for line in message.splitlines()]
    kept: list[str] = []
    for line in lines:
        if line or (kept and kept[-1]):
            kept.append(line)
    while kept and not kept[-1]:
        kept.pop()
    return "\n".join(kept) + "\n"


@dataclass(frozen=True)
class Identity:
    name: str
    email: str
