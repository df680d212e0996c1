"""Cleaning ("neat"): decide which objects go to git and strip what the cluster added.

Pure: no I/O; only the standard library, pydantic and PyYAML.

- ``exclusion_reason``: why an object is never written (built-in exclusions, then the policy).
  Some need the rest of the backup (a claim's StatefulSet, a custom resource's CRD): a
  ``BackupIndex`` built beforehand (``backup_index.py``) is passed in.
- ``neat``: a cleaned copy, built once (``fresh.py``): status, server metadata, allocated values and API defaults go;
  what a person wrote stays. One rule module per kind, registered in ``ruleset.RULES``; defaults
  as data in ``defaults.py``.
- ``apply_secret_policy`` / ``needs_encryption``: what happens to Secret values.
- ``prepare``: all of the above plus user transforms, for one object.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from backup2gitops.core.cleaning.backup_index import EMPTY_INDEX, INDEXED_RESOURCES, BackupIndex
from backup2gitops.core.cleaning.context import RuleContext
from backup2gitops.core.cleaning.exclusions import (
    builtin_reason,
    claim_template_reason,
    gitops_owner_reason,
    invalid_reason,
    policy_reason,
    provisioned_volume_reason,
    secret_policy_reason,
)
from backup2gitops.core.cleaning.fresh import fresh_copy
from backup2gitops.core.cleaning.objectref import ObjectRef
from backup2gitops.core.cleaning.policy import CleaningPolicy
from backup2gitops.core.cleaning.ruleset import apply_rules
from backup2gitops.core.cleaning.secret import apply_secret_policy, needs_encryption
from backup2gitops.core.cleaning.settings import CleaningSettings

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

_DEFAULT_POLICY = CleaningPolicy.model_construct()  # not validated: built when first used


def exclusion_reason(
    obj: Mapping[str, Any], *, policy: CleaningPolicy, index: BackupIndex = EMPTY_INDEX
) -> str | None:
    """Why ``obj`` is never written to git, or None. An object that cannot be valid is refused
    first (``invalid: ...``), then the built-in exclusions, then the policy (and, with
    ``gitops_owned: exclude``, objects another GitOps tool owns). ``index`` is the
    rest of the backup (without it, a StatefulSet's claims are not recognised)."""
    ref = ObjectRef.of(obj)
    return (
        invalid_reason(obj)
        or builtin_reason(obj, ref)
        or claim_template_reason(ref, index=index)
        or provisioned_volume_reason(ref, policy=policy)
        or policy_reason(ref, policy=policy)
        or gitops_owner_reason(ref, policy=policy)
    )


def neat(
    obj: Mapping[str, Any],
    *,
    policy: CleaningPolicy = _DEFAULT_POLICY,
    index: BackupIndex = EMPTY_INDEX,
) -> dict[str, Any]:
    """A cleaned copy of ``obj``, built fresh (``fresh.fresh_copy``); ``obj`` is never modified.
    ``index`` holds the CRDs whose schema defaults leave their custom resources."""
    cleaned = fresh_copy(obj)
    apply_rules(cleaned, RuleContext.for_object(obj, policy=policy, index=index))
    return cleaned


@dataclass(frozen=True)
class Prepared:
    """The outcome for one object: ``excluded`` (a reason) or ``object`` (ready to write).

    ``encrypt`` is True when the caller must encrypt ``object`` (sops) before writing it.
    """

    object: dict[str, Any] | None = None
    excluded: str | None = None
    encrypt: bool = False

    def __post_init__(self) -> None:
        if (self.object is None) == (self.excluded is None):
            raise ValueError("Prepared needs exactly one of object or excluded")


def prepare(
    obj: Mapping[str, Any],
    *,
    policy: CleaningPolicy = _DEFAULT_POLICY,
    transforms: Sequence[Transform] = (),
    index: BackupIndex = EMPTY_INDEX,
    exclude: bool = True,
) -> Prepared:
    """Exclusions, then ``neat``, then the secret policy, then each transform in order.

    ``exclude=False`` (``backup2gitops neat`` without ``--exclude``) cleans whatever it is
    given: only what is no Kubernetes object (``invalid: ...``) and the secret policy's
    ``exclude`` still leave it out."""
    reason = (
        exclusion_reason(obj, policy=policy, index=index)
        if exclude
        else invalid_reason(obj) or secret_policy_reason(ObjectRef.of(obj), policy=policy)
    )
    if reason is not None:
        return Prepared(excluded=reason)
    result = apply_secret_policy(neat(obj, policy=policy, index=index), policy=policy)
    for transform in transforms:
        transformed = transform(result)
        if transformed is None:
            name = getattr(transform, "__name__", type(transform).__name__)
            return Prepared(excluded=f"transform:{name}")
        result = transformed
    return Prepared(object=result, encrypt=needs_encryption(result, policy))
