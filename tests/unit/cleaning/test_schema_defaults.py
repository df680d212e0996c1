"""CRD structural-schema defaults: what the walk removes, and what it must keep."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from backup2gitops.core.cleaning import BackupIndex, CleaningPolicy, neat
from backup2gitops.core.cleaning.schema_defaults import (
    crd_defaults,
    defaults_tree,
    prune_defaults,
)


def crd(schema: dict[str, Any], *, version: str = "v1") -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "names": {"kind": "Widget", "plural": "widgets"},
            "scope": "Namespaced",
            "versions": [{"name": version, "schema": {"openAPIV3Schema": schema}}],
        },
    }


def spec_schema(**properties: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"spec": {"type": "object", "properties": properties}},
    }


def pruned(schema: dict[str, Any], spec: Any, applied: Any = None) -> Any:
    root = defaults_tree(schema)
    assert root is not None
    obj = {"spec": copy.deepcopy(spec)}
    prune_defaults(obj, root, applied=applied)
    return obj.get("spec", "<gone>")


def test_a_default_goes_a_value_stays() -> None:
    schema = spec_schema(replicas={"type": "integer", "default": 1})
    assert pruned(schema, {"replicas": 1}) == {}
    assert pruned(schema, {"replicas": 3}) == {"replicas": 3}


def test_json_equality_not_python_equality() -> None:
    schema = spec_schema(
        on={"type": "boolean", "default": True}, n={"type": "number", "default": 1}
    )
    assert pruned(schema, {"on": 1, "n": True}) == {"on": 1, "n": True}
    assert pruned(schema, {"on": True, "n": 1.0}) == {}


def test_a_written_default_stays() -> None:
    schema = spec_schema(replicas={"type": "integer", "default": 1}, mode={"default": "fast"})
    applied = {"spec": {"replicas": 1}}
    assert pruned(schema, {"replicas": 1, "mode": "fast"}, applied) == {"replicas": 1}


def test_nested_defaults_go_into_a_parents_default() -> None:
    tls = {"type": "object", "default": {}, "properties": {"on": {"default": False}}}
    schema = spec_schema(tls=tls)
    # applied without tls: the server stores tls: {on: false}; both levels were defaults
    assert pruned(schema, {"tls": {"on": False}}) == {}
    # a written tls: {} keeps tls, loses the nested default
    assert pruned(schema, {"tls": {"on": False}}, {"spec": {"tls": {}}}) == {"tls": {}}
    # a value beside the nested default keeps the parent
    assert pruned(schema, {"tls": {"on": False, "name": "x"}}) == {"tls": {"name": "x"}}


def test_a_parent_default_equal_as_stored_goes_whole() -> None:
    tls = {"default": {"on": True}, "properties": {"on": {"default": True}}}
    assert pruned(spec_schema(tls=tls), {"tls": {"on": True}}) == {}


def test_items_are_walked_but_never_removed() -> None:
    ports = {
        "type": "array",
        "items": {"type": "object", "default": {}, "properties": {"protocol": {"default": "TCP"}}},
    }
    schema = spec_schema(ports=ports)
    spec = {"ports": [{"port": 80, "protocol": "TCP"}, {}, {"port": 53, "protocol": "UDP"}]}
    assert pruned(schema, spec) == {"ports": [{"port": 80}, {}, {"port": 53, "protocol": "UDP"}]}


def test_list_items_pair_by_position_or_by_map_keys() -> None:
    item = {"type": "object", "properties": {"protocol": {"default": "TCP"}}}
    by_position = spec_schema(ports={"type": "array", "items": item})
    spec = {"ports": [{"port": 80, "protocol": "TCP"}, {"port": 81, "protocol": "TCP"}]}
    applied = {"spec": {"ports": [{"port": 80}, {"port": 81, "protocol": "TCP"}]}}
    assert pruned(by_position, spec, applied) == {
        "ports": [{"port": 80}, {"port": 81, "protocol": "TCP"}]
    }
    # lengths differ and no keys say which is which: nothing in the list is touched
    short = {"spec": {"ports": [{"port": 81, "protocol": "TCP"}]}}
    assert pruned(by_position, spec, short) == spec
    by_key = spec_schema(
        ports={
            "type": "array",
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["port"],
            "items": item,
        }
    )
    assert pruned(by_key, spec, short) == {"ports": [{"port": 80}, {"port": 81, "protocol": "TCP"}]}


def test_additional_properties_are_walked_their_own_default_kept() -> None:
    limits = {
        "type": "object",
        "additionalProperties": {
            "type": "object",
            "default": {"burst": 10},
            "properties": {"burst": {"default": 10}},
        },
    }
    schema = spec_schema(limits=limits)
    spec = {"limits": {"api": {"burst": 10, "rate": 5}, "web": {"burst": 10}}}
    # a map value's default only replaces a null: the keys stay, their properties' defaults go
    assert pruned(schema, spec) == {"limits": {"api": {"rate": 5}, "web": {}}}
    applied = {"spec": {"limits": {"web": {"burst": 10}}}}
    assert pruned(schema, spec, applied) == {"limits": {"api": {"rate": 5}, "web": {"burst": 10}}}


def test_defaults_only_where_the_parent_exists_in_the_shape_the_schema_says() -> None:
    schema = spec_schema(tls={"type": "object", "properties": {"on": {"default": False}}})
    assert pruned(schema, {"tls": "not an object"}) == {"tls": "not an object"}
    assert pruned(schema, "not an object") == "not an object"


def test_metadata_and_status_are_never_walked() -> None:
    schema = {
        "type": "object",
        "properties": {
            "metadata": {"properties": {"name": {"default": "x"}}},
            "status": {"properties": {"ready": {"default": False}}},
        },
    }
    assert crd_defaults(crd(schema)) == {}


def test_value_validations_hold_no_defaults() -> None:
    schema = spec_schema(mode={"anyOf": [{"default": "fast"}], "type": "string"})
    assert crd_defaults(crd(schema)) == {}


def test_index_keys_by_group_version_kind() -> None:
    index = BackupIndex.of([crd(spec_schema(replicas={"default": 1}), version="v1beta1")])
    assert list(index.schema_defaults) == [("example.com", "v1beta1", "Widget")]


def widget(api_version: str = "example.com/v1", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": api_version,
        "kind": "Widget",
        "metadata": {"name": "w", "namespace": "shop"},
        "spec": spec,
    }


@pytest.mark.parametrize(
    ("index_objects", "api_version"),
    [
        ([], "example.com/v1"),  # the CRD is not in the backup
        ([crd(spec_schema(replicas={"default": 1}))], "example.com/v2"),  # nor that version
    ],
)
def test_an_object_without_its_crd_is_left_as_it_is(
    index_objects: list[dict[str, Any]], api_version: str
) -> None:
    index = BackupIndex.of(index_objects)
    obj = widget(api_version, replicas=1)
    assert neat(obj, policy=CleaningPolicy(), index=index)["spec"] == {"replicas": 1}


def test_neat_prunes_with_the_index_and_never_touches_its_input() -> None:
    index = BackupIndex.of([crd(spec_schema(replicas={"default": 1}, size={"type": "string"}))])
    obj = widget(replicas=1, size="s")
    before = copy.deepcopy(obj)
    assert neat(obj, policy=CleaningPolicy(), index=index)["spec"] == {"size": "s"}
    assert obj == before


def test_the_apply_entry_of_managed_fields_counts_as_written() -> None:
    index = BackupIndex.of([crd(spec_schema(replicas={"default": 1}, mode={"default": "a"}))])
    obj = widget(replicas=1, mode="a")
    obj["metadata"]["managedFields"] = [
        {
            "manager": "flux",
            "operation": "Apply",
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:spec": {"f:replicas": {}}},
        }
    ]
    assert neat(obj, policy=CleaningPolicy(), index=index)["spec"] == {"replicas": 1}


def test_metadata_is_never_pruned_beside_a_spec_default() -> None:
    schema = spec_schema(replicas={"default": 1})
    schema["properties"]["metadata"] = {"properties": {"labels": {"default": {"a": "b"}}}}
    index = BackupIndex.of([crd(schema)])
    obj = widget(replicas=1)
    obj["metadata"]["labels"] = {"a": "b"}
    cleaned = neat(obj, policy=CleaningPolicy(), index=index)
    assert cleaned["metadata"]["labels"] == {"a": "b"}
    assert cleaned["spec"] == {}
