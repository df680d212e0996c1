"""One object prepared for git: ``exclusion_reason``, then ``neat`` (a cleaned copy, every
kind's rules: ``ruleset``), then the secret policy, then the user's transforms (``prepare``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from backup2gitops.core.cleaning.backup_index import EMPTY_INDEX, BackupIndex
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

if TYPE_CHECKING:
    from backup2gitops.core.cleaning import Transform

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
