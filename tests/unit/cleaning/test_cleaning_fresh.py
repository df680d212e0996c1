"""The object cleaning edits is built once, fresh: never the caller's, never a shared subtree."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

from backup2gitops.core import cleaning
from backup2gitops.core.cleaning import CleaningPolicy, neat, prepare
from backup2gitops.core.cleaning.fresh import fresh_copy


def containers(value: Any) -> Iterator[Any]:
    if isinstance(value, dict):
        yield value
        for item in value.values():
            yield from containers(item)
    elif isinstance(value, list):
        yield value
        for item in value:
            yield from containers(item)


def deployment() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "d",
            "namespace": "n",
            "labels": {"a": "b"},
            "managedFields": [{"manager": "kubectl", "fieldsV1": {"f:spec": {}}}],
        },
        "spec": {
            "selector": {"matchLabels": {"a": "b"}},
            "template": {"spec": {"containers": [{"name": "c", "image": "x", "args": ["1"]}]}},
        },
        "status": {"replicas": 1},
    }


def test_fresh_copy_shares_no_container_with_its_input() -> None:
    obj = deployment()
    result = fresh_copy(obj)
    originals = {id(c) for c in containers(obj)}
    assert all(id(c) not in originals for c in containers(result))
    expected = copy.deepcopy(obj)
    del expected["status"], expected["metadata"]["managedFields"]
    assert result == expected


def test_values_outside_json_are_deep_copied() -> None:
    inner = ["x"]
    result = fresh_copy({"metadata": {"name": "n"}, "spec": {"tuple": (inner,)}})
    assert result["spec"]["tuple"] == (["x"],)
    assert result["spec"]["tuple"][0] is not inner


def test_neat_and_prepare_leave_the_read_object_as_it_was() -> None:
    obj = deployment()
    before = copy.deepcopy(obj)
    cleaned = neat(obj)
    cleaned["spec"]["template"]["spec"]["containers"][0]["args"].append("2")
    cleaned["metadata"]["labels"]["x"] = "y"
    prepared = prepare(obj, policy=CleaningPolicy())
    assert prepared.object is not None
    prepared.object["spec"]["selector"]["matchLabels"]["z"] = "1"
    assert obj == before


def test_redacting_a_secret_leaves_the_input_as_it_was() -> None:
    item = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s", "annotations": {"keep": "me"}},
        "data": {"a": "c2VjcmV0"},
        "stringData": {"b": "plain"},
    }
    before = copy.deepcopy(item)
    redacted = cleaning.apply_secret_policy(item, policy=CleaningPolicy(secrets="redact"))
    assert item == before
    assert redacted["metadata"]["annotations"] == {
        "keep": "me",
        "backup2gitops.io/redacted": "true",
    }
    assert redacted["data"] == {"a": "UkVEQUNURUQ="}


def test_redaction_marks_a_secret_without_metadata_but_not_one_with_null_metadata() -> None:
    policy = CleaningPolicy(secrets="redact")
    bare = cleaning.apply_secret_policy({"apiVersion": "v1", "kind": "Secret"}, policy=policy)
    assert bare["metadata"] == {"annotations": {"backup2gitops.io/redacted": "true"}}
    null = {"apiVersion": "v1", "kind": "Secret", "metadata": None}
    assert cleaning.apply_secret_policy(null, policy=policy)["metadata"] is None
