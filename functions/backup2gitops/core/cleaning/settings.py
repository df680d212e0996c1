"""The configuration's cleaning section: the policy (``policy.CleaningPolicy``) and the settings
that decide, field by field, what a person wrote.

Pure: no I/O; only the standard library and pydantic.

``CleaningSettings`` is a ``CleaningPolicy``, so every caller that passes the configuration's
``generator.cleaning`` as the policy gets these settings too; a plain ``CleaningPolicy`` (the
cluster-backup filters, ``neat``'s options) gets their defaults (``settings_of``).
"""

from __future__ import annotations

from typing import Final

from pydantic import Field

from backup2gitops.core.cleaning.field_managers import FieldManagers
from backup2gitops.core.cleaning.policy import CleaningPolicy


class CleaningSettings(CleaningPolicy):
    """``CleaningPolicy`` and:

    - ``field_managers``: who is a controller among the managers of ``managedFields``; fields
      only controllers own are left out (``field_ownership``).
    """

    field_managers: FieldManagers = Field(
        default_factory=FieldManagers,
        description="field managers (metadata.managedFields) to count as controllers or as "
        "people, besides the built-in table (core/cleaning/field_managers.py); a field only "
        "controllers own is left out",
    )


DEFAULT_SETTINGS: Final = CleaningSettings()


def settings_of(policy: CleaningPolicy) -> CleaningSettings:
    """``policy`` itself when it carries the settings, else the defaults."""
    return policy if isinstance(policy, CleaningSettings) else DEFAULT_SETTINGS
