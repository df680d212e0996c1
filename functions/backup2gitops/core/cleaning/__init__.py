"""Cleaning ("neat"): decide which objects go to git and strip what the cluster added.

Pure: no I/O; only the standard library, pydantic and PyYAML.

- ``exclusion_reason``: why an object is never written (built-in exclusions, then the policy).
  Some need the rest of the backup (a claim's StatefulSet, a custom resource's CRD): a
  ``BackupIndex`` built beforehand (``backup_index.py``) is passed in.
- ``neat``: a cleaned copy, built once (``fresh.py``): status, server metadata, allocated values and API defaults go;
  what a person wrote stays. One rule module per kind, registered in ``ruleset.RULES``; defaults
  as data in ``defaults.py``.
- ``apply_secret_policy`` / ``needs_encryption``: what happens to Secret values.
- ``prepare``: all of the above plus user transforms, for one object (``preparation.py``).

The package imports the policy, the settings and the index (what the configuration and an
unchanged backup use) with itself; the rules, with the first of the names above asked for
(``core.lazy_exports``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from backup2gitops.core.cleaning.backup_index import EMPTY_INDEX, INDEXED_RESOURCES, BackupIndex
from backup2gitops.core.cleaning.policy import CleaningPolicy
from backup2gitops.core.cleaning.settings import CleaningSettings
from backup2gitops.core.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from backup2gitops.core.cleaning.preparation import (
        Prepared,
        exclusion_reason,
        neat,
        prepare,
    )
    from backup2gitops.core.cleaning.secret import apply_secret_policy, needs_encryption
else:  # every kind's rules: imported when an object is first cleaned (``core.lazy_exports``)
    __getattr__ = lazy_exports(
        __name__,
        {
            "Prepared": "preparation",
            "exclusion_reason": "preparation",
            "neat": "preparation",
            "prepare": "preparation",
            "apply_secret_policy": "secret",
            "needs_encryption": "secret",
        },
    )

__all__ = [
    "EMPTY_INDEX",
    "INDEXED_RESOURCES",
    "BackupIndex",
    "CleaningPolicy",
    "CleaningSettings",
    "Prepared",
    "Transform",
    "apply_secret_policy",
    "exclusion_reason",
    "neat",
    "needs_encryption",
    "prepare",
]

Transform = Callable[[dict[str, Any]], dict[str, Any] | None]
"""A user transform: returns the (possibly edited) object, or None to exclude it."""
