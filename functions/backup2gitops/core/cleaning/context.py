"""What every cleaning rule receives besides the object: the policy and what a person wrote.

Pure: no I/O; only the standard library and pydantic.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from backup2gitops.core.cleaning import defaults
from backup2gitops.core.cleaning.applied_fields import applied_projection
from backup2gitops.core.cleaning.backup_index import EMPTY_INDEX, BackupIndex
from backup2gitops.core.cleaning.field_ownership import Ownership
from backup2gitops.core.cleaning.policy import CleaningPolicy
from backup2gitops.core.cleaning.prune import MAPPING
from backup2gitops.core.cleaning.settings import CleaningSettings, settings_of


@dataclass(frozen=True)
class RuleContext:
    """The policy, the object as last applied by ``kubectl apply`` (None when unknown), and the
    index of the backup it came from.

    ``last_applied`` is how a rule tells a value a person wrote (``nodePort: 30080`` in the
    manifest) from one the server chose (an auto-assigned ``nodePort``): the last-applied
    annotation of a client-side ``kubectl apply``, else the fields server-side appliers own
    (``applied_fields.applied_projection``: Flux, Argo CD, ``kubectl apply --server-side``).
    """

    policy: CleaningPolicy
    last_applied: Mapping[str, Any] | None = None
    index: BackupIndex = EMPTY_INDEX
    """The rest of the backup: the CRDs whose schema defaults are pruned (``schema_defaults``),
    the objects HPAs scale."""
    client_applied: Mapping[str, Any] | None = None
    """The last-applied annotation alone (client-side ``kubectl apply``)."""
    ownership: Ownership | None = None
    """Who owns which field, from ``managedFields`` (None: unknown, or no person's manager)."""
    settings: CleaningSettings = field(default_factory=CleaningSettings)
    source: Mapping[str, Any] | None = None
    """The object as it was backed up (rules edit a fresh copy of it)."""

    @classmethod
    def for_object(
        cls, obj: Mapping[str, Any], *, policy: CleaningPolicy, index: BackupIndex = EMPTY_INDEX
    ) -> RuleContext:
        settings = settings_of(policy)
        managers = settings.field_managers
        client = last_applied(obj)
        return cls(
            policy=policy,
            last_applied=client or applied_projection(obj, is_controller=managers.is_controller),
            index=index,
            client_applied=client,
            ownership=Ownership.of(obj, managers),
            settings=settings,
            source=obj,
        )


def last_applied(obj: Mapping[str, Any]) -> dict[str, Any] | None:
    """The parsed last-applied-configuration annotation, or None if absent or not a JSON object."""
    metadata = obj.get("metadata")
    if not isinstance(metadata, MAPPING):
        return None
    annotations = metadata.get("annotations")
    if not isinstance(annotations, MAPPING):
        return None
    raw = annotations.get(defaults.LAST_APPLIED)
    if not isinstance(raw, str):
        return None
    try:
        parsed = json.loads(raw)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


Rule = Callable[[dict[str, Any], RuleContext], None]
"""A cleaning rule edits its own copy of the object (built fresh by ``neat``) in place."""
