"""The member cache's header says what its backup was as a whole (``core.member_cache``):
``WholeBackup`` and the figures (``generation.unchanged``). The folder's id it carries is git's
(``adapters.git.trees``: tests/functional/test_git_trees.py)."""

from __future__ import annotations

from typing import Any

from backup2gitops.core.archive import ReadReport
from backup2gitops.core.member_cache import MemberCache, WholeBackup
from backup2gitops.generation.plan import Plan
from backup2gitops.generation.unchanged import Figures

PLAN_FIGURES = (
    "objects",
    "excluded",
    "excluded_by_reason",
    "kinds",
    "credentials",
    "credentials_total",
    "unmanaged",
    "unmanaged_names",
    "kept_foreign",
    "missing_entries",
    "missing_entries_total",
)
"""What a commit's message, reply and guards count of a backup in its ``Plan``: each one the
header carries (``Figures``) and an unchanged backup's run gives as a full run does."""


def plan() -> tuple[Plan, ReadReport]:
    made = Plan(cluster="c", objects=3, excluded=2, excluded_by_reason={"b": 1, "a": 1})
    made.kinds.update({("ConfigMap", "team"): 2, ("Namespace", "(cluster)"): 1})
    made.credentials, made.credentials_total = ["ConfigMap team/x: data.password"], 4
    made.unmanaged, made.unmanaged_names = 2, ["ConfigMap team/x"]
    made.kept_foreign, made.missing_entries, made.missing_entries_total = 1, ["k: y.yaml"], 3
    report = ReadReport(items=5, refused=["'resources/x': path_mismatch"], refused_total=1)
    return made, report


def test_figures_go_through_the_header_and_back() -> None:
    made, report = plan()
    header = MemberCache(
        settings="s", whole=WholeBackup("m", "f", Figures.of(made, report).to_json())
    )
    parsed = MemberCache.parse(header.dump())
    assert parsed is not None and parsed.whole is not None
    assert (parsed.whole.members, parsed.whole.folder) == ("m", "f")
    figures = Figures.of_json(parsed.whole.figures)
    assert figures is not None
    again, read = Plan(cluster="c"), ReadReport(items=5)
    figures.apply(again, read)
    for name in PLAN_FIGURES:
        assert getattr(again, name) == getattr(made, name), name
    assert (read.refused, read.refused_total, read.items) == (report.refused, 1, 5)
    # in the order a full run counted them: the reply and the event list them so
    assert list(again.excluded_by_reason) == ["b", "a"]
    assert list(again.kinds) == list(made.kinds)


def test_a_header_without_a_whole_backup_is_still_a_cache() -> None:
    parsed = MemberCache.parse(b'{"format":5,"settings":"s","index":{}}\n')
    assert parsed is not None and parsed.whole is None


def test_figures_of_another_shape_are_none() -> None:
    made, report = plan()
    good = Figures.of(made, report).to_json()
    bad: list[dict[str, Any]] = [
        {**good, "objects": "3"},
        {**good, "objects": True},
        {**good, "kinds": [["ConfigMap", "team", 2, 1]]},
        {**good, "kinds": None},
        {**good, "excluded_by_reason": {"a": -1}},
        {**good, "credentials": "x"},
        {k: v for k, v in good.items() if k != "refused_total"},
    ]
    assert Figures.of_json(good) is not None
    assert [Figures.of_json(one) for one in bad] == [None] * len(bad)
    assert WholeBackup.of_json({"members": "m", "folder": "f", "figures": []}) is None
    assert WholeBackup.of_json("x") is None
