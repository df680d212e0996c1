"""Golden pairs: cases/<case>.input.yaml -> cases/<case>.expected.yaml.

Every input is what ``kubectl get -o yaml`` prints on a real cluster. Each object of the input
goes through ``prepare`` with ``secrets=redact`` and ``keep_provisioned_volumes`` (the only
policy differences from the default, so the Secret and the provisioned PV cases are visible);
excluded objects are absent from the expected file.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from backup2gitops.core import cleaning, manifest_yaml

CASES = Path(__file__).parent / "cases"
NAMES = sorted(p.name.removesuffix(".input.yaml") for p in CASES.glob("*.input.yaml"))
POLICY = cleaning.CleaningPolicy(secrets="redact", keep_provisioned_volumes=True)


def _render(objects: list[dict]) -> str:
    return "---\n".join(manifest_yaml.dump(obj) for obj in objects)


def test_every_case_has_an_expected_file() -> None:
    assert NAMES
    for name in NAMES:
        assert (CASES / f"{name}.expected.yaml").exists(), name


@pytest.mark.parametrize("name", NAMES)
def test_golden(name: str) -> None:
    inputs = manifest_yaml.load_all((CASES / f"{name}.input.yaml").read_text())
    expected = manifest_yaml.load_all((CASES / f"{name}.expected.yaml").read_text())
    before = copy.deepcopy(inputs)
    results = [cleaning.prepare(obj, policy=POLICY) for obj in inputs]
    actual = [r.object for r in results if r.object is not None]
    assert _render(actual) == _render(expected)
    assert inputs == before, "prepare must not mutate its input"


# Cleaning removes the last-applied annotation, the only evidence that a person wrote an
# allocated value (a nodePort); a second pass cannot know it any more.
NOT_IDEMPOTENT = {"service-nodeport-lastapplied"}


@pytest.mark.parametrize("name", sorted(set(NAMES) - NOT_IDEMPOTENT))
def test_neat_is_idempotent(name: str) -> None:
    for obj in manifest_yaml.load_all((CASES / f"{name}.input.yaml").read_text()):
        once = cleaning.neat(obj, policy=POLICY)
        assert cleaning.neat(once, policy=POLICY) == once
