"""What, besides a member's bytes, shapes what the generator makes of it: one digest
(``core.member_cache.MemberCache.settings``). Another value voids the whole member cache.

It covers the cleaning policy, the transforms (their names and the source of their modules),
the layout, the sops recipients, the cluster, and the source of the code that turns an object
into a file (``core`` and ``generation``: a changed rule, even in a development build of the
same version, is a changed setting); the project's version stands for that source only where
the package ships none (reading the version costs a scan of the installed distributions).
"""

from __future__ import annotations

import functools
import hashlib
import inspect
from collections.abc import Sequence
from pathlib import Path

from backup2gitops.core import member_cache, units
from backup2gitops.core.cleaning import CleaningPolicy
from backup2gitops.generation.plan import Transform

_PACKAGE = Path(__file__).resolve().parent.parent


def settings_digest(
    *,
    cluster: str,
    policy: CleaningPolicy,
    transforms: Sequence[Transform],
    layout: units.Layout | None,
    recipients: Sequence[str],
) -> str:
    return member_cache.settings_digest(
        [
            code_digest() or f"version {_version()}",
            cluster,
            policy.model_dump_json(),
            repr(layout or units.Layout()),
            "\n".join(recipients),
            *(_transform_identity(transform) for transform in transforms),
        ]
    )


@functools.cache
def code_digest() -> str:
    """A digest of the source of ``backup2gitops.core`` and ``backup2gitops.generation`` (empty
    when the package ships no source: the version stands for it then)."""
    digest = hashlib.sha256()
    for folder in ("core", "generation"):
        for path in sorted((_PACKAGE / folder).rglob("*.py")):
            digest.update(path.relative_to(_PACKAGE).as_posix().encode() + b"\0")
            digest.update(path.read_bytes())
    return digest.hexdigest()


@functools.cache
def _version() -> str:
    import importlib.metadata

    try:
        return importlib.metadata.version("backup2gitops")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _transform_identity(transform: Transform) -> str:
    """The transform's qualified name and its module's source (its digest), or its repr."""
    name = f"{getattr(transform, '__module__', '?')}.{getattr(transform, '__qualname__', '?')}"
    module = inspect.getmodule(transform)
    try:
        source = inspect.getsource(module) if module is not None else repr(transform)
    except (OSError, TypeError):
        source = repr(transform)
    return f"{name}:{hashlib.sha256(source.encode()).hexdigest()}"
