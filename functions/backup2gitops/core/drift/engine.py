"""The drift engine: every enabled rule of the table over every change, less the allow-list."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from backup2gitops.core.drift.catalogue import role_key
from backup2gitops.core.drift.changes import BINDINGS, Facts, ObjectChange, RoleKey
from backup2gitops.core.drift.policy import DriftPolicy
from backup2gitops.core.drift.table import RULES

if TYPE_CHECKING:
    from backup2gitops.core.events import DriftFinding


def referenced_roles(changes: Iterable[ObjectChange]) -> set[RoleKey]:
    """The roles the added or changed bindings refer to: the shell reads them from the new tree."""
    found = set()
    for change in changes:
        if change.kind in BINDINGS and change.after is not None:
            key = role_key(change.after)
            if key is not None:
                found.add(key)
    return found


def findings(
    changes: Sequence[ObjectChange], *, facts: Facts, policy: DriftPolicy
) -> list[DriftFinding]:
    """Every enabled rule over every change, less what the allow-list accepts, in a stable order."""
    # the event catalog loads with the first finding, not with the configuration that names rules
    from backup2gitops.core.events import DriftFinding

    enabled = [rule for rule in RULES if rule.id in set(policy.rules)]
    found: list[DriftFinding] = []
    for change in changes:
        for rule in enabled:
            if change.kind not in rule.kinds:
                continue
            for summary in rule.check(change, facts):
                finding = DriftFinding(
                    kind=change.kind,
                    namespace=change.namespace,
                    name=change.name,
                    rule=rule.id,
                    severity=rule.severity,
                    summary=summary,
                )
                if not any(entry.matches(finding) for entry in policy.allow):
                    found.append(finding)
    return sorted(found, key=lambda f: (f.rule, f.kind, f.namespace or "", f.name, f.summary))
