"""What happens to a Secret's values: excluded, redacted, kept for sops, or kept in plaintext.

Pure: no I/O; only the standard library and pydantic.

``redact`` keeps every key (so a reviewer sees which keys exist and the object stays valid for
the API server) and replaces every value: ``data`` values become ``UkVEQUNURUQ=``
(base64 of ``REDACTED``, valid base64 as ``data`` requires), ``stringData`` values become
``REDACTED``, and the annotation ``backup2gitops.io/redacted: "true"`` marks the object so that
nobody applies it by mistake over the real Secret.
"""

from __future__ import annotations

import base64
import unicodedata
from collections.abc import Mapping
from typing import Any, Final

from backup2gitops.core.cleaning.policy import CleaningPolicy

PLACEHOLDER: Final[str] = "REDACTED"
PLACEHOLDER_BASE64: Final[str] = base64.b64encode(PLACEHOLDER.encode()).decode()
REDACTED_ANNOTATION: Final[str] = "backup2gitops.io/redacted"


def is_secret(obj: Mapping[str, Any]) -> bool:
    """Whether the secrets policy applies: any object whose kind reads ``secret`` in any case,
    whatever its apiVersion, and any list (``kind: List``, ``items: [...]``) that holds one.
    The API server compares kinds case-sensitively, so ``kind: secret`` is no Secret to it --
    but its values are someone's secrets all the same, and a mistyped kind must never be the way
    they reach git in clear; ``kubectl apply`` creates every item of a List."""
    if looks_like_secret_kind(obj.get("kind")):
        return True
    return isinstance(obj.get("items"), list) and any(  # no items: nothing listed
        looks_like_secret_kind(item.get("kind")) for item in _listed(obj)
    )


def looks_like_secret_kind(kind: object) -> bool:
    """``Secret`` however it is spelt: any case, any whitespace, invisible characters (zero-width
    space, joiners, BOM: Unicode's format characters) and compatibility forms (full-width
    letters) -- a look-alike is meant to read as a Secret, so it is treated as one."""
    if not isinstance(kind, str):
        return False
    if kind in _NOT_SECRET_KINDS:  # asked three times for every object: the common kinds at once
        return False
    if kind.isascii():  # NFKC changes no ASCII, none of it is a format character
        return "".join(kind.split()).lower() == "secret"
    folded = unicodedata.normalize("NFKC", kind)
    visible = "".join(
        char for char in folded if not char.isspace() and unicodedata.category(char) != "Cf"
    )
    return visible.casefold() == "secret"


_NOT_SECRET_KINDS: Final = frozenset(
    {"ConfigMap", "Deployment", "Service", "StatefulSet", "DaemonSet", "Namespace", "Pod"}
    | {"ServiceAccount", "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding", "Ingress"}
    | {"PersistentVolumeClaim", "CronJob", "Job", "HorizontalPodAutoscaler", "NetworkPolicy"}
    | {"CustomResourceDefinition", "PodDisruptionBudget", "ReplicaSet", "PersistentVolume"}
)
"""Kinds that read as no ``Secret`` however they are folded (checked by a test)."""


def _listed(obj: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every object inside ``obj``'s ``items``, at any depth (a List of Lists), without recursion."""
    found: list[dict[str, Any]] = []
    pending = [obj]
    while pending:
        items = pending.pop().get("items")
        if not isinstance(items, list):
            continue
        for item in items:
            if isinstance(item, dict):
                found.append(item)
                pending.append(item)
    return found


def needs_encryption(obj: Mapping[str, Any], policy: CleaningPolicy) -> bool:
    """True when ``obj`` is a Secret the caller must encrypt (sops) before writing it anywhere."""
    return policy.secrets == "sops" and is_secret(obj)


def apply_secret_policy(obj: Mapping[str, Any], *, policy: CleaningPolicy) -> dict[str, Any]:
    """``obj`` with the secret policy applied; ``obj`` itself is never modified.

    Non-Secrets (and Secrets kept for sops or in plaintext) come back as they are, the same dict
    when ``obj`` is one. A redacted Secret is a new top-level dict with new ``data``,
    ``stringData`` and ``metadata``; what the policy does not touch is shared with ``obj``, not
    copied (``prepare`` hands this function the object ``neat`` has just built).
    ``exclude`` is enforced by ``exclusion_reason``; here it redacts, as a second line of defence.
    """
    if policy.secrets in ("plaintext", "sops") or not is_secret(obj):
        return obj if isinstance(obj, dict) else dict(obj)
    if not looks_like_secret_kind(obj.get("kind")):  # a list holding Secrets: each one redacted
        items = obj.get("items")
        return {
            **obj,
            "items": [
                apply_secret_policy(item, policy=policy) if isinstance(item, dict) else item
                for item in (items if isinstance(items, list) else [])
            ],
        }
    result = dict(obj)
    for key, placeholder in (("data", PLACEHOLDER_BASE64), ("stringData", PLACEHOLDER)):
        values = result.get(key)
        if isinstance(values, dict):
            result[key] = {name: placeholder for name in values}
    metadata = result.get("metadata", {})
    if isinstance(metadata, dict):
        annotations = metadata.get("annotations")
        result["metadata"] = {
            **metadata,
            "annotations": {
                **(annotations if isinstance(annotations, dict) else {}),
                REDACTED_ANNOTATION: "true",
            },
        }
    return result
