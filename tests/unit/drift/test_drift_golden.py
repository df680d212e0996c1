"""Golden pairs for the drift rules: cases/<rule>.input.yaml -> cases/<rule>.expected.yaml.

An input holds ``changes`` (``before``/``after`` objects, null for added/removed) and the
``roles`` of the new tree that bindings may refer to; the expected file is the findings, in
``core.drift.findings`` order. One case per rule, named after it, each with changes that must
not fire beside the ones that must.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from backup2gitops.core import drift

CASES = Path(__file__).parent / "cases"
NAMES = sorted(p.name.removesuffix(".input.yaml") for p in CASES.glob("*.input.yaml"))


def run_case(raw: dict[str, Any], policy: drift.DriftPolicy | None = None) -> list[dict[str, Any]]:
    changes = [drift.ObjectChange(before=c["before"], after=c["after"]) for c in raw["changes"]]
    roles = {
        (r["kind"], r["metadata"].get("namespace"), r["metadata"]["name"]): r
        for r in raw.get("roles") or ()
    }
    found = drift.findings(
        changes, facts=drift.Facts(roles=roles), policy=policy or drift.DriftPolicy()
    )
    return [f.model_dump(mode="json") for f in found]


def test_every_rule_has_a_case() -> None:
    assert sorted(drift.RULE_IDS) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_golden(name: str) -> None:
    raw = yaml.safe_load((CASES / f"{name}.input.yaml").read_text())
    expected = yaml.safe_load((CASES / f"{name}.expected.yaml").read_text())
    assert run_case(raw) == expected
    assert name in {f["rule"] for f in expected}, "the case must make its rule fire"


@pytest.mark.parametrize("name", NAMES)
def test_the_rule_alone_finds_its_findings(name: str) -> None:
    """Each rule's findings come from that rule: turned off, they are gone and nothing else."""
    raw = yaml.safe_load((CASES / f"{name}.input.yaml").read_text())
    expected = yaml.safe_load((CASES / f"{name}.expected.yaml").read_text())
    others = [r for r in drift.RULE_IDS if r != name]
    without = run_case(raw, drift.DriftPolicy(rules=others))  # type: ignore[arg-type]
    assert without == [f for f in expected if f["rule"] != name]
