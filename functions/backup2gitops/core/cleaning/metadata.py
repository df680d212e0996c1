"""Common rule for every object, known kind or not: drop ``status`` and server-written metadata.

Pure: no I/O; only the standard library.

This is the only rule applied to custom resources besides their CRD's schema defaults
(``schema_defaults``, when the CRD is in the backup): otherwise their ``spec`` is never
touched, so a ``{}``, ``false``, ``0`` or ``""`` a person wrote there stays.
"""

from __future__ import annotations

from typing import Any

from backup2gitops.core.cleaning import defaults
from backup2gitops.core.cleaning.context import RuleContext
from backup2gitops.core.cleaning.prune import as_dict, drop_if_empty


def clean_common(obj: dict[str, Any], ctx: RuleContext) -> None:
    obj.pop("status", None)
    metadata = as_dict(obj.get("metadata"))
    if metadata is None:
        return
    for key in defaults.SERVER_METADATA:
        metadata.pop(key, None)
    # Owner references name their owner by uid, which is this cluster's: applied anywhere else
    # (a rebuilt cluster, a restore) the owner "does not exist" and the garbage collector deletes
    # the object. Objects owned by a controller are excluded before cleaning (their controller
    # recreates them); the references left are dropped with the rest of the server's bookkeeping.
    metadata.pop("ownerReferences", None)
    annotations = as_dict(metadata.get("annotations"))
    if annotations is not None:
        for key in list(annotations):
            if key in defaults.SERVER_ANNOTATIONS or key.startswith(
                defaults.SERVER_ANNOTATION_PREFIXES
            ):
                del annotations[key]
    finalizers = metadata.get("finalizers")
    if isinstance(finalizers, list):
        metadata["finalizers"] = [f for f in finalizers if f not in defaults.PROTECTION_FINALIZERS]
    drop_if_empty(metadata, ("annotations", "labels", "finalizers"))


def clean_template_metadata(template: dict[str, Any]) -> None:
    """Pod and claim templates: drop the ``creationTimestamp: null`` the server serialises."""
    metadata = as_dict(template.get("metadata"))
    if metadata is None:
        return
    if "creationTimestamp" in metadata and metadata["creationTimestamp"] is None:
        del metadata["creationTimestamp"]
    drop_if_empty(metadata, ("annotations", "labels"))
    drop_if_empty(template, ("metadata",))
