"""manifest_writer writes exactly what PyYAML writes: golden cases, the sample, a generated corpus.

PyYAML on libyaml's emitter (``kube_yaml.dump_pyyaml``), what the repository was written
with, is the reference (its pure-Python emitter differs from libyaml on a few escapes, such as
NEL and LINE SEPARATOR; on the golden cases all three agree). The corpus is seeded, so a
failure names an object that can be replayed.
"""

from __future__ import annotations

import datetime
import random
import sys
from pathlib import Path
from typing import Any

import pytest

from backup2gitops.core import kube_yaml, kube_yaml_writer
from backup2gitops.core.cleaning import CleaningPolicy, prepare
from backup2gitops.sample import iter_sample_items

CASES = Path(__file__).parent / "cases"
BENCHMARKS = Path(__file__).resolve().parents[3] / "benchmarks"

AWKWARD = [
    "", " ", "a", "yes", "No", "ON", "off", "true", "False", "null", "Null", "~", "1", "-1",
    "+1", "010", "0o17", "0x1f", "1_000", "1.0", "-.5", ".inf", "-.Inf", ".NaN", "1e3", "6.02e+23",
    "190:20:30", "2024-01-01", "2024-01-01T00:00:00Z", "2001-12-14 21:59:43.10 -5", "<<", "=",
    "!", "&a", "*a", "---", "--- x", "...", "-", "- a", "-a", "?", "? a", "?a", ":", ": a", ":a",
    "a:", "a: b", "a:b", "a #b", "a#b", "#c", " lead", "trail ", "in  side", "'", "''", "a'b",
    '"', 'a"b', "%x", "@x", "`x", "|x", ">x", "{x", "}x", "[x", "]x", ",x", "a,b", "a{b}",
    "tab\there", "back\\slash", "ü", "日本語 ✓", "\x85", "a\u2028b", "\ufeffbom", "\x07bell",
    "\r\n", "x\n", "x\n\n", "\n", "\nlead", " lead\nx", "a\nb", "a\n b\n", "a \nb", "a\n\nb\n",
    "a\nb ", "a\tb\nc", "ü\nx", "- a\n- b\n", "key: v\n", "x" * 119, "y" * 125, "z" * 300,
    "registry.example.com/app@sha256:" + "0" * 64, "25%", "50m", "64Mi", "/dev/termination-log",
]  # fmt: skip


def reference(obj: dict[str, Any]) -> str:
    return kube_yaml.dump_pyyaml(obj)


def fast(obj: dict[str, Any]) -> str | None:
    try:
        return kube_yaml_writer.write(
            obj,
            top_order=kube_yaml.TOP_LEVEL_ORDER,
            metadata_order=kube_yaml.METADATA_ORDER,
        )
    except kube_yaml_writer.Unsupported:
        return None


def golden_objects() -> list[dict[str, Any]]:
    objects = [
        obj for p in sorted(CASES.glob("*.yaml")) for obj in kube_yaml.load_all(p.read_text())
    ]
    objects += [item.obj for item in iter_sample_items()]
    cleaned = [prepare(obj, policy=CleaningPolicy(secrets="redact")).object for obj in objects]
    return objects + [obj for obj in cleaned if obj]


def test_every_golden_and_sample_object_is_written_as_pyyaml_writes_it() -> None:
    objects = golden_objects()
    handled = 0
    for obj in objects:
        expected = reference(obj)
        assert kube_yaml.dump(obj) == expected
        assert kube_yaml.dump(obj, pure=True) == expected
        written = fast(obj)
        if written is not None:
            handled += 1
            assert written == expected
    assert len(objects) > 150
    assert handled >= 0.95 * len(objects)  # the fast writer, not the fallback, did the work


def test_benchmark_corpus_is_written_by_the_fast_writer() -> None:
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import corpus
    finally:
        sys.path.remove(str(BENCHMARKS))
    for _, obj in corpus.objects(300, changed_every=7):
        cleaned = prepare(obj, policy=CleaningPolicy()).object
        for candidate in (obj, cleaned):
            assert candidate is not None
            assert fast(candidate) == reference(candidate)


def random_value(rng: random.Random, depth: int) -> Any:
    roll = rng.random()
    if depth < 4 and roll < 0.25:
        return random_mapping(rng, depth + 1)
    if depth < 4 and roll < 0.4:
        return [random_value(rng, depth + 1) for _ in range(rng.randrange(0, 4))]
    if roll < 0.5:
        return rng.choice([None, True, False, 0, -7, 2**70, 0.5, -1e-7, 1e21, 3.0, float("inf")])
    if roll < 0.6:
        return "".join(rng.choice(AWKWARD) for _ in range(rng.randrange(1, 4)))
    return rng.choice(AWKWARD)


def random_mapping(rng: random.Random, depth: int) -> dict[str, Any]:
    keys = ["metadata", "name", "labels", "namespace", "spec", "kind", "data", *AWKWARD]
    return {rng.choice(keys): random_value(rng, depth) for _ in range(rng.randrange(0, 5))}


@pytest.mark.parametrize("seed", range(4))
def test_generated_corpus_matches_pyyaml_byte_for_byte(seed: int) -> None:
    rng = random.Random(seed)  # noqa: S311 - a replayable corpus, not a secret
    handled = 0
    for index in range(1500):
        obj = random_mapping(rng, 0) | {"apiVersion": "v1", "kind": "X"}
        expected = reference(obj)
        assert kube_yaml.dump(obj) == expected, (seed, index, obj)
        written = fast(obj)
        if written is not None:
            handled += 1
            assert written == expected, (seed, index, obj)
    assert handled > 150  # awkward on purpose, yet the fast writer takes a good part of it


@pytest.mark.parametrize("value", AWKWARD)
def test_each_awkward_string_as_value_key_and_list_item(value: str) -> None:
    shapes: list[dict[str, Any]] = [
        {"v": value},
        {"a": {"b": [value, {"c": value}]}},
        {"l": [[value]]},
        {value: 1} if value else {"e": 1},
    ]
    for obj in shapes:
        assert kube_yaml.dump(obj) == reference(obj)


def test_out_of_subset_objects_fall_back_to_pyyaml() -> None:
    day = datetime.date(2024, 1, 1)
    for obj in ({1: "int key"}, {"k" * 125: 1}, {"s": "x\n\n"}, {"d": day}, {"f": 1.5j}, {}):
        assert fast(obj) is None
        if "f" not in obj:
            assert kube_yaml.dump(obj) == reference(obj)


def test_tuples_are_written_as_lists() -> None:
    obj = {"t": ("a", {"b": 1}, ())}
    assert fast(obj) == reference(obj) == "t:\n- a\n- b: 1\n- []\n"
