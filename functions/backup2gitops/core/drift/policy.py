"""``drift:`` in the configuration: which rules apply, the accepted changes, how long a notice lasts."""

from datetime import timedelta
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, field_validator

from backup2gitops.core.drift.table import RULE_IDS, RuleId
from backup2gitops.core.durations import Duration
from backup2gitops.core.model_defaults import empty_list

if TYPE_CHECKING:  # the event catalog is not loaded with the configuration
    from backup2gitops.core.events import DriftFinding


class DriftAllow(BaseModel):
    """A known, accepted change: findings it matches are not raised. Globs; ``*`` = any."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    rule: str = Field(default="*", description="a rule id or a glob over them")
    kind: str = "*"
    namespace: str = Field(default="*", description="'' matches cluster-scoped objects only")
    name: str = "*"
    reason: str = Field(min_length=1, description="why this is accepted (kept in the config)")

    def matches(self, finding: "DriftFinding") -> bool:
        return (
            fnmatchcase(finding.rule, self.rule)
            and fnmatchcase(finding.kind, self.kind)
            and fnmatchcase(finding.namespace or "", self.namespace)
            and fnmatchcase(finding.name, self.name)
        )


class DriftPolicy(BaseModel):
    """Which sensitive changes gitops-generator reports, and how long their alerts last."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    enabled: bool = Field(default=True, description="compare each commit with its parent")
    rules: list[RuleId] = Field(
        default_factory=lambda: list[RuleId](RULE_IDS),  # type: ignore[arg-type]
        description="the rules to apply (core.drift.RULES); default: all",
    )
    allow: list[DriftAllow] = Field(default_factory=empty_list, description="accepted changes")
    notice_for: Duration = Field(
        default=timedelta(hours=24),
        description="alert-router: a drift alert's endsAt is this far after it starts, so "
        "Alertmanager resolves the one-time notice by itself",
    )

    @field_validator("notice_for")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("must be positive")
        return value
