"""Stable YAML for Kubernetes manifests: the same object always gives the same bytes.

Pure: no I/O; only the standard library and PyYAML.

``dump``: block style; top-level keys apiVersion, kind, metadata, spec, data, stringData, type,
then the rest sorted; ``metadata`` keys (at any depth, so in templates too) name, generateName,
namespace, labels, annotations, then the rest sorted; every other mapping sorted; multi-line
strings as literal block scalars (``|``);
no line folding; unicode kept. ``load_all``: YAML or JSON; a single object, a ``kind: List``
(flattened into its items) or several YAML documents. Timestamps stay strings: an unquoted
``2024-01-01T00:00:00Z`` is not turned into a datetime, so a round trip never changes a value.
``kustomization_yaml``: a unit's kustomization (``units.kustomization``), the bytes ``dump``
writes, at once when every entry is plain.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any, Final

import yaml

from backup2gitops.core import kube_yaml_writer, units

TOP_LEVEL_ORDER: Final[tuple[str, ...]] = (
    "apiVersion",
    "kind",
    "metadata",
    "spec",
    "data",
    "stringData",
    "type",
)
METADATA_ORDER: Final[tuple[str, ...]] = (
    "name",
    "generateName",
    "namespace",
    "labels",
    "annotations",
)


# libyaml's emitter is ~10x faster than PyYAML's pure-Python one and, for the block style and
# representers used here, emits the same bytes (tests/unit/cleaning/test_manifest_yaml.py checks
# both on every golden case), so output does not depend on which one a machine has.
_SafeDumperBase: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _PureDumper(yaml.SafeDumper):
    """SafeDumper that keeps insertion order (we order keys ourselves) and never uses aliases."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


class _Dumper(_SafeDumperBase):  # type: ignore[valid-type,misc]
    """The same as ``_PureDumper``, on libyaml's emitter when it is installed."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


def _represent_dict(dumper: yaml.SafeDumper, value: dict[Any, Any]) -> yaml.MappingNode:
    return dumper.represent_mapping("tag:yaml.org,2002:map", value.items())


for _dumper in (_Dumper, _PureDumper):
    _dumper.add_representer(str, _represent_str)
    _dumper.add_representer(dict, _represent_dict)


class _Loader(yaml.SafeLoader):
    """SafeLoader without the timestamp resolver: Kubernetes timestamps are strings."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def dump(obj: Mapping[str, Any], *, pure: bool = False) -> str:
    """One manifest as stable block-style YAML (no leading ``---``).

    Written by ``manifest_writer`` (the same bytes as PyYAML, several times faster), or by
    PyYAML for what that writer leaves to it. ``pure`` forces PyYAML's Python emitter (the tests
    compare the three).
    """
    if not pure and type(obj) is dict:
        try:
            return kube_yaml_writer.write(
                obj, top_order=TOP_LEVEL_ORDER, metadata_order=METADATA_ORDER
            )
        except kube_yaml_writer.Unsupported:
            pass
    return dump_pyyaml(obj, pure=pure)


def dump_pyyaml(obj: Mapping[str, Any], *, pure: bool = False) -> str:
    """``dump`` by PyYAML alone (libyaml's emitter unless ``pure``): the reference writer."""
    ordered = _order(obj, TOP_LEVEL_ORDER)
    text: str = yaml.dump(
        ordered,
        Dumper=_PureDumper if pure else _Dumper,
        default_flow_style=False,
        sort_keys=False,
        allow_unicode=True,
        width=2**31 - 1,
        indent=2,
    )
    return text


def load_mapping(raw: bytes | None) -> dict[str, Any] | None:
    """One committed YAML document as a mapping; None when there is none, it does not parse, or
    it is not a mapping (a file someone else wrote is read, never trusted). libyaml's safe loader
    where there is one: this reads every committed Secret under sops, and every foreign file."""
    if raw is None:
        return None
    try:
        loaded = yaml.load(raw, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506
    except yaml.YAMLError:
        return None
    return loaded if isinstance(loaded, dict) else None


def load_all(text: str) -> list[dict[str, Any]]:
    """Every object in ``text`` (YAML or JSON): Lists flattened, empty documents skipped.

    Raises ValueError when a document is not a mapping or the text does not parse.
    """
    stripped = text.lstrip()
    documents: list[Any]
    try:
        if stripped.startswith(("{", "[")):
            documents = [json.loads(text)]
        else:
            documents = list(yaml.load_all(text, Loader=_Loader))
    except (yaml.YAMLError, ValueError) as err:
        raise ValueError(f"not valid YAML or JSON: {err}") from err
    objects: list[dict[str, Any]] = []
    for document in documents:
        objects.extend(_flatten(document))
    return objects


def _flatten(document: Any) -> list[dict[str, Any]]:
    if document is None:
        return []
    if isinstance(document, list):
        return [obj for item in document for obj in _flatten(item)]
    if not isinstance(document, dict):
        raise ValueError(f"expected a Kubernetes object, got {type(document).__name__}")
    if _is_list(document):
        return [obj for item in document.get("items") or [] for obj in _flatten(item)]
    return [document]


def _is_list(document: Mapping[str, Any]) -> bool:
    kind = str(document.get("kind") or "")
    if kind == "List":
        return True
    # Typed lists as the API returns them (PodList, ...): items, and no name of their own.
    metadata = document.get("metadata")
    named = isinstance(metadata, Mapping) and "name" in metadata
    return kind.endswith("List") and isinstance(document.get("items"), list) and not named


def _order(value: Any, first: tuple[str, ...]) -> Any:
    if isinstance(value, Mapping):
        keys = [k for k in first if k in value]
        keys += sorted((k for k in value if k not in first), key=str)
        return {
            key: _order(value[key], METADATA_ORDER if key == "metadata" else ()) for key in keys
        }
    if isinstance(value, list | tuple):
        return [_order(item, ()) for item in value]
    return value


_SEGMENT = r"[a-z0-9_][a-z0-9._%-]*"
_PLAIN_ENTRY = rf"(?:{_SEGMENT}/)*{_SEGMENT}(?<=\.yaml)|(?:{_SEGMENT}/)+{_SEGMENT}"
_PLAIN_ENTRIES: Final = re.compile(rf"(?:{_PLAIN_ENTRY})(?:\n(?:{_PLAIN_ENTRY}))*")
"""Entries (one a line) that YAML writes plain, as they are: lower-case ASCII segments that
begin with a letter, a digit or ``_`` (no indicator, space, colon or quote), each entry a
``.yaml`` file or holding a slash (no implicit type -- bool, int, float, null, timestamp --
reads either)."""
_KUSTOMIZATION_HEAD: Final = (
    "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- "
)


def kustomization_yaml(resources: Iterable[str]) -> str:
    """``dump(units.kustomization(resources))``: written at once, without a scalar's
    analysis per entry, when one expression finds every entry plain (``_PLAIN_ENTRIES``: the
    files and folders the generator names; an entry with a line break is not); else by
    ``dump`` (tests/unit/test_units.py holds the two to each other)."""
    listed = list(resources)
    text = "\n".join(listed)
    if listed and text.count("\n") == len(listed) - 1 and _PLAIN_ENTRIES.fullmatch(text):
        return _KUSTOMIZATION_HEAD + "\n- ".join(listed) + "\n"
    return dump(units.kustomization(listed))
