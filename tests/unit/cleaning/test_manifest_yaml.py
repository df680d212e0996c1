"""manifest_yaml: fixed key order, literal blocks, stable bytes, and the loader's inputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from backup2gitops.core.kube_yaml import dump, load_all

CASES = Path(__file__).parent / "cases"


def test_key_order() -> None:
    obj = {
        "type": "Opaque",
        "zeta": 1,
        "data": {"b": "1", "a": "2"},
        "metadata": {
            "uid": "u",
            "annotations": {"z": "1", "a": "2"},
            "namespace": "n",
            "labels": {"b": "1"},
            "name": "s",
            "generateName": "s-",
        },
        "kind": "Secret",
        "alpha": 2,
        "apiVersion": "v1",
        "stringData": {"k": "v"},
        "spec": {"z": 1, "a": 2},
    }
    keys = [line.split(":")[0] for line in dump(obj).splitlines() if not line.startswith(" ")]
    assert keys == [
        "apiVersion",
        "kind",
        "metadata",
        "spec",
        "data",
        "stringData",
        "type",
        "alpha",
        "zeta",
    ]
    meta = [
        line.strip().split(":")[0]
        for line in dump(obj).splitlines()
        if line.startswith("  ") and not line.startswith("   ")
    ][:6]
    assert meta == ["name", "generateName", "namespace", "labels", "annotations", "uid"]
    assert "  a: 2\n  z: 1\n" in dump(obj)


def test_block_style_and_literal_multiline() -> None:
    text = dump(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "c"},
            "data": {"script.sh": "#!/bin/sh\necho hi\n", "list": "[1, 2]"},
        }
    )
    assert "  script.sh: |\n    #!/bin/sh\n    echo hi\n" in text
    assert "{" not in text
    assert "list: '[1, 2]'" in text


def test_long_strings_are_not_folded() -> None:
    long = "x " * 200
    assert dump({"a": long}).count("\n") == 1


@pytest.mark.parametrize("case", sorted(CASES.glob("*.yaml")), ids=lambda p: p.name)
def test_dump_load_dump_is_stable(case: Path) -> None:
    for obj in load_all(case.read_text()):
        once = dump(obj)
        assert dump(load_all(once)[0]) == once
        assert dump(obj) == once


@pytest.mark.parametrize(
    "value",
    [
        "yes",
        "no",
        "on",
        "true",
        "1.0",
        "010",
        "0x1f",
        "",
        " lead",
        "a: b",
        "- x",
        "#c",
        "null",
        "~",
        "2024-01-01",
        "2024-01-01T00:00:00Z",
        "tab\there",
        "ü",
        "x\n",
        "x\n\n",
        "trailing \nspace",
        "\nleading newline",
    ],
)
def test_string_values_round_trip(value: str) -> None:
    text = dump({"v": value})
    assert load_all(text) == [{"v": value}]


def test_timestamps_stay_strings() -> None:
    assert load_all("a: 2024-01-01T00:00:00Z\nb: 2024-01-01\n") == [
        {"a": "2024-01-01T00:00:00Z", "b": "2024-01-01"}
    ]


def test_load_json_single_and_list() -> None:
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}
    assert load_all(json.dumps(cm)) == [cm]
    listing = {"apiVersion": "v1", "kind": "List", "items": [cm, cm], "metadata": {}}
    assert load_all(json.dumps(listing, indent=2)) == [cm, cm]


def test_load_multi_document_yaml_and_typed_lists() -> None:
    text = (
        "---\napiVersion: v1\nkind: A\n---\n\n---\n"
        "apiVersion: v1\nkind: PodList\nitems:\n- kind: Pod\n"
    )
    assert load_all(text) == [{"apiVersion": "v1", "kind": "A"}, {"kind": "Pod"}]


def test_named_kind_ending_in_list_is_an_object() -> None:
    obj = {"apiVersion": "x/v1", "kind": "AllowList", "metadata": {"name": "a"}, "items": []}
    assert load_all(json.dumps(obj)) == [obj]


@pytest.mark.parametrize("text", ["- 1\n- 2\n", "just a string", "a: [", "{not json"])
def test_invalid_input(text: str) -> None:
    with pytest.raises(ValueError):
        load_all(text)


def test_empty_input() -> None:
    assert load_all("") == []


def test_libyaml_and_pure_python_emitters_write_the_same_bytes() -> None:
    """Output must not depend on whether a machine's PyYAML has libyaml."""
    from pathlib import Path

    from backup2gitops.core import kube_yaml as my
    from backup2gitops.sample import iter_sample_items

    cases = Path(__file__).parent / "cases"
    objects = [obj for p in sorted(cases.glob("*.yaml")) for obj in my.load_all(p.read_text())]
    objects += [item.obj for item in iter_sample_items()]
    objects.append(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "ü-x"},
            "data": {
                "multi": "a\nb\n",
                "trailing": "x ",
                "quote": "'\"",
                "empty": "",
                "num": "0123",
                "bool": "yes",
                "long": "z" * 500,
                "uni": "日本語 ✓",
            },
        }
    )
    assert len(objects) > 100
    for obj in objects:
        assert my.dump(obj) == my.dump(obj, pure=True)
