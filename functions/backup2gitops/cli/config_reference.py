"""The configuration's field table (docs/configuration.md), generated from its JSON Schema.

``backup2gitops config reference > docs/configuration.md`` regenerates it; a test fails when it
is stale. Types and descriptions come from the schema, defaults from an empty configuration.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from backup2gitops.config import Config

HEADER = """# Configuration reference

Generated from the configuration model by `backup2gitops config reference` (do not edit by
hand; `tests/unit/test_config_reference.py` fails when it is stale). The JSON Schema of the same
model is [`schemas/config.schema.json`](../schemas/config.schema.json). How the file is found,
`${VAR}` expansion and environment overrides: [README, "Configure"](../README.md#configure).

Every key not listed here is an error, in every section. A *secret* is a reference,
`{env: NAME}` or `{file: PATH}`, never the value. A *duration* is Go-style
(`26h`, `90m`, `1h30m`; no `d`: 7 days is `168h`) or ISO 8601 (`PT26H`, `P1D`).
"""


def _ref_name(schema: dict[str, Any]) -> str | None:
    ref = schema.get("$ref")
    return str(ref).rsplit("/", 1)[-1] if ref else None


def _type(schema: dict[str, Any]) -> str:
    name = _ref_name(schema)
    if name == "SecretRef":
        return "secret"
    if name:
        return name
    if "anyOf" in schema:
        kinds = [_type(s) for s in schema["anyOf"] if s.get("type") != "null"]
        optional = any(s.get("type") == "null" for s in schema["anyOf"])
        return " or ".join(kinds) + (" (optional)" if optional else "")
    if "enum" in schema:
        return " \\| ".join(f"`{value}`" for value in schema["enum"])
    if "const" in schema:
        return f"`{schema['const']}`"
    kind = schema.get("type", "any")
    if kind == "array":
        return f"list of {_type(schema.get('items', {}))}"
    if kind == "object":
        values = schema.get("additionalProperties")
        return f"map of {_type(values)}" if isinstance(values, dict) else "map"
    if schema.get("format") == "duration":
        return "duration"
    return str(kind)


REQUIRED = object()


def _default(value: Any) -> str:
    if value is REQUIRED:
        return "**required**"
    if value is None:
        return ""
    if isinstance(value, dict) and set(value) <= {"env", "file"}:
        return ", ".join(f"{k}: {v}" for k, v in value.items() if v is not None)
    text = json.dumps(value)
    return f"`{text}`" if len(text) <= 60 else "(see the model)"


def _rows(
    schema: dict[str, Any],
    defs: dict[str, Any],
    prefix: str,
    defaults: Any,
    stack: tuple[str, ...] = (),
    skip: frozenset[str] = frozenset(),
) -> Iterator[tuple[str, str, str, str]]:
    required = set(schema.get("required", []))
    for name, prop in schema.get("properties", {}).items():
        if name in skip:
            continue
        path = f"{prefix}.{name}" if prefix else name
        default = defaults.get(name) if isinstance(defaults, dict) else prop.get("default")
        if name in required:
            default = REQUIRED
        child = _ref_name(prop)
        if child and child != "SecretRef" and "properties" in defs[child]:
            yield from _rows(defs[child], defs, path, default, (*stack, child))
            continue
        items = prop.get("items", {})
        item_ref = _ref_name(items)
        if prop.get("type") == "array" and item_ref and item_ref != "SecretRef":
            if item_ref in stack:  # a tree (routes[].routes): the same fields again
                yield path, f"list, each like `{prefix}`", "", ""
                continue
            yield path, "list", _default(default), prop.get("description", "")
            yield from _rows(defs[item_ref], defs, f"{path}[]", None, (*stack, item_ref))
            continue
        if prop.get("type") == "array" and "oneOf" in items:  # the receivers' tagged union
            yield path, "list", _default(default), prop.get("description", "")
            variants = [defs[_ref_name(v) or ""] for v in items["oneOf"]]
            common = frozenset.intersection(*(frozenset(v["properties"]) for v in variants))
            common -= {"type"}
            yield from _rows(
                variants[0],
                defs,
                f"{path}[]",
                None,
                stack,
                skip=frozenset(set(variants[0]["properties"]) - common),
            )
            for model in variants:
                kind = model["properties"]["type"]
                tag = kind.get("const") or "<entry point>"
                yield from _rows(model, defs, f"{path}[] (type: {tag})", None, stack, common)
            continue
        yield path, _type(prop), _default(default), prop.get("description", "")


def reference_markdown() -> str:
    schema = Config.model_json_schema()
    defaults = Config().model_dump(mode="json", by_alias=True)
    lines = [HEADER, "| field | type | default | description |", "|---|---|---|---|"]
    for path, kind, default, description in _rows(schema, schema["$defs"], "", defaults):
        cells = [f"`{path}`", kind, default, description.replace("|", "\\|").replace("\n", " ")]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def config_schema() -> dict[str, Any]:
    """The JSON Schema of the configuration file (published as schemas/config.schema.json)."""
    schema = Config.model_json_schema()
    schema["$id"] = "https://backup2gitops.io/schemas/config.schema.json"
    schema["description"] = "the backup2gitops configuration file ($BACKUP2GITOPS_CONFIG)"
    return schema
