"""Golden pairs: cases/<case>.input.yaml -> cases/<case>.expected.yaml.

Every input is what ``kubectl get -o yaml`` prints on a real cluster. Each case is one backup:
its objects go through ``prepare`` with the case's own ``BackupIndex`` (its StatefulSets and
CRDs), ``secrets=redact`` and ``keep_provisioned_volumes`` (the only policy differences from the
default, so the Secret and the provisioned PV cases are visible); excluded objects are absent
from the expected file. A case with ``<case>.excluded.yaml`` (``Kind namespace/name: reason``)
pins every exclusion and its reason, and the line each reason gives in the commit message.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from backup2gitops import generation
from backup2gitops.core import cleaning, kube_yaml
from backup2gitops.core.archive import BackupItem
from backup2gitops.core.cleaning.objectref import ObjectRef
from backup2gitops.core.repo_layout import group_resource_for
from backup2gitops.generation import CommitResult

CASES = Path(__file__).parent / "cases"
NAMES = sorted(p.name.removesuffix(".input.yaml") for p in CASES.glob("*.input.yaml"))
WITH_REASONS = sorted(p.name.removesuffix(".excluded.yaml") for p in CASES.glob("*.excluded.yaml"))
POLICY = cleaning.CleaningPolicy(secrets="redact", keep_provisioned_volumes=True)


def _render(objects: list[dict]) -> str:
    return "---\n".join(kube_yaml.dump(obj) for obj in objects)


def test_every_case_has_an_expected_file() -> None:
    assert NAMES
    for name in NAMES:
        assert (CASES / f"{name}.expected.yaml").exists(), name


@pytest.mark.parametrize("name", NAMES)
def test_golden(name: str) -> None:
    inputs = kube_yaml.load_all((CASES / f"{name}.input.yaml").read_text())
    expected = kube_yaml.load_all((CASES / f"{name}.expected.yaml").read_text())
    before = copy.deepcopy(inputs)
    index = cleaning.BackupIndex.of(inputs)
    results = [cleaning.prepare(obj, policy=POLICY, index=index) for obj in inputs]
    actual = [r.object for r in results if r.object is not None]
    assert _render(actual) == _render(expected)
    assert inputs == before, "prepare must not mutate its input"


# Cleaning removes the last-applied annotation, the only evidence that a person wrote an
# allocated value (a nodePort) or a value equal to its CRD default; a second pass cannot know it
# any more.
NOT_IDEMPOTENT = {
    "service-nodeport-lastapplied",
    "crd-defaults",
    "leftover-defaults",
    "ingress-nginx-controller",  # the defaults its deploy.yaml writes are known from last-applied
}


@pytest.mark.parametrize("name", sorted(set(NAMES) - NOT_IDEMPOTENT))
def test_neat_is_idempotent(name: str) -> None:
    inputs = kube_yaml.load_all((CASES / f"{name}.input.yaml").read_text())
    index = cleaning.BackupIndex.of(inputs)
    for obj in inputs:
        once = cleaning.neat(obj, policy=POLICY, index=index)
        assert cleaning.neat(once, policy=POLICY, index=index) == once


def _items(objects: list[dict]) -> list[BackupItem]:
    return [
        BackupItem(
            group_resource=group_resource_for(obj["apiVersion"], obj["kind"]),
            namespace=obj["metadata"].get("namespace"),
            name=obj["metadata"]["name"],
            obj=obj,
        )
        for obj in objects
    ]


def test_reasons_are_pinned_for_the_exclusion_cases() -> None:
    assert {"statefulset-claims", "helm-and-restarts"} <= set(WITH_REASONS)
    assert set(WITH_REASONS) <= set(NAMES)


@pytest.mark.parametrize("name", WITH_REASONS)
def test_exclusion_reasons_reach_the_commit_message(name: str) -> None:
    inputs = kube_yaml.load_all((CASES / f"{name}.input.yaml").read_text())
    expected = kube_yaml.load_all((CASES / f"{name}.excluded.yaml").read_text())[0]
    index = cleaning.BackupIndex.of(inputs)
    excluded = {
        f"{ref.kind} {ref.qualified_name}": result.excluded
        for obj in inputs
        if (result := cleaning.prepare(obj, policy=POLICY, index=index)).excluded
        and (ref := ObjectRef.of(obj))
    }
    assert excluded == expected
    # the generator's own pipeline, on the case as one backup in archive order
    plan = generation.plan_backup(_items(inputs), cluster="golden", policy=POLICY)
    message = generation.commit_message(
        plan=plan,
        backup_id="b1",
        result=CommitResult(commit="0" * 40, added=plan.objects, changed=0, removed=0, noop=False),
    )
    _, _, section = message.partition("\nExcluded:\n")
    listed = section.splitlines()
    counts: dict[str, int] = {}
    for reason in expected.values():
        counts[reason] = counts.get(reason, 0) + 1
    assert sorted(listed) == sorted(f"  {reason}: {n}" for reason, n in counts.items())


@pytest.mark.parametrize("name", WITH_REASONS)
def test_reasons_hold_in_any_archive_order(name: str) -> None:
    """The index is built before cleaning: a claim before its StatefulSet, or a custom
    resource before its CRD, is decided the same way."""
    inputs = kube_yaml.load_all((CASES / f"{name}.input.yaml").read_text())
    forward = generation.plan_backup(_items(inputs), cluster="golden", policy=POLICY)
    backward = generation.plan_backup(_items(inputs[::-1]), cluster="golden", policy=POLICY)
    assert backward.excluded_by_reason == forward.excluded_by_reason
    assert backward.files == forward.files
