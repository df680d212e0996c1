"""The configuration's cleaning section: the policy (``policy.CleaningPolicy``) and the settings
that decide, field by field, what a person wrote.

Pure: no I/O; only the standard library and pydantic.

``CleaningSettings`` is a ``CleaningPolicy``, so every caller that passes the configuration's
``generator.cleaning`` as the policy gets these settings too; a plain ``CleaningPolicy`` (the
cluster-backup filters, ``neat``'s options) gets their defaults (``settings_of``).
"""

from typing import Final

from pydantic import Field

from backup2gitops.core.cleaning.field_managers import FieldManagers
from backup2gitops.core.cleaning.gitops_owners import GitopsOwned
from backup2gitops.core.cleaning.ignore_rules import IgnoreRule
from backup2gitops.core.cleaning.policy import CleaningPolicy


class CleaningSettings(CleaningPolicy):
    """``CleaningPolicy`` and:

    - ``field_managers``: who is a controller among the managers of ``managedFields``; fields
      only controllers own are left out (``field_ownership``).
    - ``gitops_owned``: objects Flux, Argo CD or Helm own: ``keep`` (default, the faithful
      restore), ``strip-marks`` or ``exclude`` (``gitops_owners``).
    - ``ignore_differences``: fields to leave out, in Argo CD's ``ignoreDifferences`` shape
      (``ignore_rules``).
    """

    field_managers: FieldManagers = Field(
        default_factory=FieldManagers.model_construct,
        description="field managers (metadata.managedFields) to count as controllers or as "
        "people, besides the built-in table (core/cleaning/field_managers.py); a field only "
        "controllers own is left out",
    )
    gitops_owned: GitopsOwned = Field(
        default="keep",
        description="objects carrying Flux, Argo CD or Helm ownership marks: keep (as they are: "
        "the faithful restore, the owning tool recognises its objects), strip-marks (written "
        "without the marks, for a repository another tool applies), exclude (left out, the "
        "owner named in the reason)",
    )
    ignore_differences: list[IgnoreRule] = Field(
        default=[],
        description="fields left out of matching objects, in Argo CD's ignoreDifferences shape: "
        "group, kind, name, namespace, jsonPointers, jqPathExpressions, managedFieldsManagers",
    )


DEFAULT_SETTINGS: Final = CleaningSettings.model_construct()
"""The defaults, made without validation (the model is built when first used: ``defer_build``)."""


def settings_of(policy: CleaningPolicy) -> CleaningSettings:
    """``policy`` itself when it carries the settings, else the defaults. (The class asked
    first: ``isinstance`` of a pydantic model goes through ``ABCMeta``'s Python check, and this
    is asked twice per object.)"""
    if type(policy) is CleaningSettings:
        return policy
    return policy if isinstance(policy, CleaningSettings) else DEFAULT_SETTINGS


def as_settings(value: object) -> object:
    """A plain ``CleaningPolicy`` given where settings are expected, with the settings' defaults
    (a caller that builds ``GeneratorConfig(cleaning=CleaningPolicy(...))`` keeps working)."""
    if isinstance(value, CleaningPolicy) and not isinstance(value, CleaningSettings):
        return CleaningSettings(**value.model_dump())
    return value
