"""A backup that is the last commit's backup again: the committed folder stands as it is, and
its figures are the commit's, read from the member cache's header (``core.member_cache``).

    the archive, read and hashed (``generation.reading``) --(same members, in the same order,
      same settings, same cross-object facts; the folder still the one the commit left: its
      tree id without the header, ``Tip.unsealed``)--> no per-member pass: the figures from
      ``WholeBackup.figures``

Every member of such a backup would be kept by the per-member pass (same bytes, no changed
fact, its file committed as written), and the files the pass would make of the rest (the
kustomizations, the entry points, the foreign files kept) are made of the same paths and the
same folder: the pass would write nothing. Skipping it is what makes an unchanged backup cost
its read, not its members. ``tests/functional/test_unchanged_backup.py`` holds the figures and
the folder to a full run's.
"""

from __future__ import annotations

import collections
from typing import Any, NamedTuple

from backup2gitops.core.archive import ReadReport
from backup2gitops.generation.plan import Plan


class Figures(NamedTuple):
    """What a commit's message, reply and guards count of a backup, beyond what reading the
    archive counts again (``ReadReport.items``, the duplicates, the warnings)."""

    objects: int
    excluded: int
    excluded_by_reason: dict[str, int]
    kinds: list[tuple[str, str, int]]
    credentials: list[str]
    credentials_total: int
    unmanaged: int
    unmanaged_names: list[str]
    kept_foreign: int
    missing_entries: list[str]
    missing_entries_total: int
    refused: list[str]
    refused_total: int

    @classmethod
    def of(cls, plan: Plan, report: ReadReport) -> Figures:
        return cls(
            objects=plan.objects,
            excluded=plan.excluded,
            excluded_by_reason=dict(plan.excluded_by_reason),  # in the order counted
            kinds=[(kind, namespace, n) for (kind, namespace), n in plan.kinds.items()],
            credentials=list(plan.credentials),
            credentials_total=plan.credentials_total,
            unmanaged=plan.unmanaged,
            unmanaged_names=list(plan.unmanaged_names),
            kept_foreign=plan.kept_foreign,
            missing_entries=list(plan.missing_entries),
            missing_entries_total=plan.missing_entries_total,
            refused=list(report.refused),
            refused_total=report.refused_total,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "objects": self.objects,
            "excluded": self.excluded,
            "excluded_by_reason": self.excluded_by_reason,
            "kinds": [list(row) for row in self.kinds],
            "credentials": self.credentials,
            "credentials_total": self.credentials_total,
            "unmanaged": self.unmanaged,
            "unmanaged_names": self.unmanaged_names,
            "kept_foreign": self.kept_foreign,
            "missing_entries": self.missing_entries,
            "missing_entries_total": self.missing_entries_total,
            "refused": self.refused,
            "refused_total": self.refused_total,
        }

    @classmethod
    def of_json(cls, value: dict[str, Any]) -> Figures | None:
        """The figures a header holds; None when any is missing or of another type."""
        try:
            kinds = [(_text(k), _text(n), _count(c)) for k, n, c in value["kinds"]]
            by_reason = value["excluded_by_reason"]
            if not isinstance(by_reason, dict):
                return None
            return cls(
                objects=_count(value["objects"]),
                excluded=_count(value["excluded"]),
                excluded_by_reason={_text(k): _count(v) for k, v in by_reason.items()},
                kinds=kinds,
                credentials=_texts(value["credentials"]),
                credentials_total=_count(value["credentials_total"]),
                unmanaged=_count(value["unmanaged"]),
                unmanaged_names=_texts(value["unmanaged_names"]),
                kept_foreign=_count(value["kept_foreign"]),
                missing_entries=_texts(value["missing_entries"]),
                missing_entries_total=_count(value["missing_entries_total"]),
                refused=_texts(value["refused"]),
                refused_total=_count(value["refused_total"]),
            )
        except (KeyError, TypeError, ValueError):
            return None

    def apply(self, plan: Plan, report: ReadReport) -> None:
        """Set ``plan``'s figures and ``report``'s refusals to these."""
        plan.objects, plan.excluded = self.objects, self.excluded
        plan.excluded_by_reason = dict(self.excluded_by_reason)
        plan.kinds = collections.Counter({(kind, ns): n for kind, ns, n in self.kinds})
        plan.credentials = list(self.credentials)
        plan.credentials_total = self.credentials_total
        plan.unmanaged, plan.unmanaged_names = self.unmanaged, list(self.unmanaged_names)
        plan.kept_foreign = self.kept_foreign
        plan.missing_entries = list(self.missing_entries)
        plan.missing_entries_total = self.missing_entries_total
        report.refused, report.refused_total = list(self.refused), self.refused_total


def _count(value: Any) -> int:
    if type(value) is not int or value < 0:
        raise ValueError("not a count")
    return value


def _text(value: Any) -> str:
    if type(value) is not str:
        raise ValueError("not a text")
    return value


def _texts(value: Any) -> list[str]:
    if not isinstance(value, list):
        raise ValueError("not a list")
    return [_text(one) for one in value]
