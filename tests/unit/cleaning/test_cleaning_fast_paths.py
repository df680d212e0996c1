"""The cleaning's fast paths answer as the general code they skip.

Each shortcut taken for a fresh export's speed (issue 21) is held here to the code it stands in
for, over the golden cases and generated objects: the marshal copy (``fresh._tree``), the mark
check without an ``ObjectRef`` (``gitops_owners.has_marks``) and the kinds known to be no
Secret (``secret._NOT_SECRET_KINDS``).
"""

from __future__ import annotations

import collections
import random
from pathlib import Path
from typing import Any

import pytest

from backup2gitops.core import kube_yaml
from backup2gitops.core.cleaning import fresh, gitops_owners, secret
from backup2gitops.core.cleaning import written as written_module
from backup2gitops.core.cleaning.gitops_owners import gitops_owner
from backup2gitops.core.cleaning.objectref import ObjectRef
from backup2gitops.sample import iter_sample_items

CASES = Path(__file__).parent / "cases"


def golden_objects() -> list[dict[str, Any]]:
    objects = [
        obj for p in sorted(CASES.glob("*.yaml")) for obj in kube_yaml.load_all(p.read_text())
    ]
    return objects + [item.obj for item in iter_sample_items()]


def comprehension_copy(obj: dict[str, Any]) -> dict[str, Any]:
    """``fresh_copy`` as it was written before the marshal round trip."""
    result = {key: fresh._copy(value) for key, value in obj.items() if key != "status"}
    metadata = obj.get("metadata")
    if type(metadata) is dict:
        result["metadata"] = {
            key: fresh._copy(value) for key, value in metadata.items() if key != "managedFields"
        }
    return result


def containers(value: Any) -> list[Any]:
    found = []
    if isinstance(value, dict):
        found.append(value)
        for item in value.values():
            found += containers(item)
    elif isinstance(value, list):
        found.append(value)
        for item in value:
            found += containers(item)
    return found


class Label(str):
    """A str subclass: marshal refuses it, the copy keeps its type."""


AWKWARD_VALUES: list[Any] = [
    None, True, False, 0, -1, 2**70, 1.5, -0.0, float("inf"), "", "ü", "a\nb",
    [], {}, [[]], [{}], {"a": []}, (1, [2]), collections.OrderedDict(a=[1]), Label("x"),
    {"nested": [{"deep": [1, {"x": None}]}]}, {1: "int key"}, b"bytes",
]  # fmt: skip


def test_fresh_copy_is_the_comprehension_copy_sharing_no_container() -> None:
    objects = golden_objects()
    objects += [
        {"apiVersion": "v1", "kind": "X", "metadata": {"name": "a", "v": value}, "spec": value}
        for value in AWKWARD_VALUES
    ]
    for obj in objects:
        copied = fresh.fresh_copy(obj)
        assert copied == comprehension_copy(obj)
        assert repr(copied) == repr(comprehension_copy(obj))  # types too: a tuple stays one
        source_ids = {id(c) for c in containers(obj)}
        assert not any(id(c) in source_ids for c in containers(copied))


def test_one_round_trip_copies_as_the_subtrees_one_by_one() -> None:
    objects = golden_objects() + [
        {"apiVersion": "v1", "kind": "X", "metadata": {"name": "a", "v": value}, "spec": value}
        for value in AWKWARD_VALUES
    ]
    for obj in objects:
        assert repr(fresh.fresh_copy(obj)) == repr(fresh._by_subtree(obj))


def test_fresh_copy_never_makes_two_equal_subtrees_one() -> None:
    shared = [1, 2]
    copied = fresh.fresh_copy({"kind": "X", "spec": {"a": shared, "b": shared}})
    copied["spec"]["a"].append(3)
    assert copied["spec"]["b"] == [1, 2]


def mark_objects() -> list[dict[str, Any]]:
    marks = [
        *gitops_owners.FLUX_KUSTOMIZATION,
        *gitops_owners.FLUX_HELMRELEASE,
        gitops_owners.ARGOCD_TRACKING,
        *gitops_owners.HELM_RELEASE,
        "app.kubernetes.io/name",
    ]
    values: list[Any] = ["", "x", "ns_app:apps/Deployment:ns/a", None, 0, 1]
    rng = random.Random(21)  # noqa: S311 - a seeded corpus, replayable
    objects: list[dict[str, Any]] = []
    for _ in range(600):
        metadata: dict[str, Any] = {"name": "a"}
        for where in ("labels", "annotations"):
            shape = rng.choice(["absent", "none", "list", "dict", "dict", "dict"])
            if shape == "none":
                metadata[where] = None
            elif shape == "list":
                metadata[where] = ["x"]
            elif shape == "dict":
                keys = rng.sample(marks, rng.randint(0, 3))
                metadata[where] = {key: rng.choice(values) for key in keys}
        objects.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata})
    objects += [{"kind": "X"}, {"kind": "X", "metadata": None}, {"kind": "X", "metadata": []}]
    return objects + golden_objects()


def test_has_marks_is_gitops_owner_of_the_object_ref() -> None:
    for obj in mark_objects():
        assert gitops_owners.has_marks(obj) == (gitops_owner(ObjectRef.of(obj)) is not None), obj


@pytest.mark.parametrize("kind", sorted(secret._NOT_SECRET_KINDS))
def test_kinds_taken_as_no_secret_are_none_by_the_general_check(
    kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(secret, "_NOT_SECRET_KINDS", frozenset())
    assert not secret.looks_like_secret_kind(kind)


def test_secret_look_alikes_still_read_as_secrets() -> None:
    for kind in ("Secret", "secret", " Secret", "SECRET", "Se\u200bcret", "\uff33ecret"):
        assert secret.looks_like_secret_kind(kind)
    assert secret._NOT_SECRET_KINDS  # the table is not empty


_GONE = object()


def recursive_restore(cleaned: dict[str, Any], key: str, written: Any, original: Any) -> None:
    """``written._restore`` as it was before ``_restore_into`` (one call per key)."""
    if original is _GONE:
        return
    if key not in cleaned:
        agreed = written_module._agreeing(written, original)
        if agreed is not written_module._MISSING:
            cleaned[key] = agreed
        return
    value = cleaned[key]
    if value == written:
        return
    if isinstance(value, dict) and isinstance(written, dict) and isinstance(original, dict):
        for sub, sub_written in written.items():
            recursive_restore(value, sub, sub_written, original.get(sub, _GONE))
    elif (
        isinstance(value, list)
        and isinstance(written, list)
        and isinstance(original, list)
        and len(value) == len(written) == len(original)
    ):
        for item, item_written, item_original in zip(value, written, original, strict=True):
            if isinstance(item, dict) and isinstance(item_written, dict):
                for sub, sub_written in item_written.items():
                    if isinstance(item_original, dict):
                        recursive_restore(item, sub, sub_written, item_original.get(sub, _GONE))


def random_tree(rng: random.Random, depth: int) -> Any:
    roll = rng.random()
    if depth > 3 or roll < 0.35:
        return rng.choice([None, True, False, 0, 1, 30, "x", "TCP", "", 1.5])
    if roll < 0.55:
        return [random_tree(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    return {rng.choice("abcdef"): random_tree(rng, depth + 1) for _ in range(rng.randint(0, 4))}


def mutated(rng: random.Random, value: Any, drop: float, change: float) -> Any:
    """``value`` with keys dropped and values changed at random (a cleaning, or a later edit)."""
    if isinstance(value, dict):
        result = {}
        for key, sub in value.items():
            if rng.random() < drop:
                continue
            result[key] = (
                random_tree(rng, 3) if rng.random() < change else mutated(rng, sub, drop, change)
            )
        return result
    if isinstance(value, list):
        if rng.random() < drop:
            return value[: rng.randint(0, len(value))]
        return [mutated(rng, item, drop, change) for item in value]
    return value


def test_restore_into_is_the_recursive_restore() -> None:
    rng = random.Random(8)  # noqa: S311 - a seeded corpus, replayable
    for _ in range(3000):
        original = {"spec": random_tree(rng, 0), "data": random_tree(rng, 1)}
        written = mutated(rng, original, drop=0.2, change=0.1)
        cleaned = fresh.fresh_copy(mutated(rng, original, drop=0.3, change=0.05))
        expected = fresh.fresh_copy(cleaned)
        for key, sub_written in written.items():
            recursive_restore(expected, key, sub_written, original.get(key, _GONE))
        written_module._restore_into(cleaned, written, original)
        assert repr(cleaned) == repr(expected), (original, written)


def test_restore_into_a_record_that_is_the_object_is_the_recursive_restore() -> None:
    """The Apply-owned fields of a node owned whole are the object's own node: the restore
    reads no original apart from the record, and puts a scalar back as it is."""
    rng = random.Random(9)  # noqa: S311 - a seeded corpus, replayable
    for _ in range(3000):
        original = {"spec": random_tree(rng, 0), "data": random_tree(rng, 1)}
        if rng.random() < 0.3:
            original["spec"] = {"nan": float("nan"), "sub": original["spec"]}
        cleaned = fresh.fresh_copy(mutated(rng, original, drop=0.3, change=0.05))
        expected = fresh.fresh_copy(cleaned)
        for key, sub_written in original.items():
            recursive_restore(expected, key, sub_written, sub_written)
        written_module._restore_into(cleaned, original, original)
        assert repr(cleaned) == repr(expected), original
