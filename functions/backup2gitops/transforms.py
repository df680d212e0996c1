"""User transforms, loaded from the ``backup2gitops.transforms`` entry-point group.

Not pure (it reads installed package metadata); the transforms themselves run in
``core.cleaning.prepare``. See docs/transforms.md for a complete example plugin.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib.metadata import EntryPoint, entry_points

from backup2gitops.core.cleaning import Transform
from backup2gitops.core.errors import Backup2GitopsError

GROUP = "backup2gitops.transforms"


class UnknownTransform(Backup2GitopsError, LookupError):
    """A configured transform name has no installed entry point."""

    code = "unknown_transform"


def installed() -> dict[str, EntryPoint]:
    """The installed transforms by name (the configuration is checked against these)."""
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def load_transforms(names: Sequence[str] | None = None) -> list[Transform]:
    """The transforms named in ``names``, in that order; all installed ones (sorted) when None.

    Raise UnknownTransform for a name with no entry point, and TypeError when an entry point
    does not load a callable. None named: none loaded, and no package's metadata read (a scan
    of every installed distribution, on every backup).
    """
    if names is not None and not names:
        return []
    available = installed()
    selected = sorted(available) if names is None else list(names)
    missing = [name for name in selected if name not in available]
    if missing:
        raise UnknownTransform(
            f"unknown transform(s) {', '.join(missing)}; installed: {', '.join(sorted(available))}"
        )
    transforms: list[Transform] = []
    for name in selected:
        loaded = available[name].load()
        if not callable(loaded):
            raise TypeError(f"transform {name} ({available[name].value}) is not callable")
        transforms.append(loaded)
    return transforms
