"""Declarative ignore rules, in the shape Argo CD users know from ``ignoreDifferences``.

Pure: no I/O; only the standard library and pydantic.

Each rule names objects by ``group`` and ``kind`` (``*`` or globs allowed; ``group: ""`` is the
core group), optionally ``name`` and ``namespace``, and what to leave out of them:

- ``jsonPointers``: RFC 6901 pointers (``/spec/replicas``, ``/metadata/annotations/a~1b``);
- ``jqPathExpressions``: simple paths in jq syntax (``.spec.replicas``,
  ``.spec.template.spec.containers[].image``, ``.metadata.annotations["example.com/x"]``,
  ``.webhooks[]?.clientConfig.caBundle``, ``.spec.template.spec.initContainers[] |
  select(.name == "istio-init")``): ``.key``, ``."key"``, ``["key"]``, ``[N]``, ``[]`` (``[]?``),
  and ``select(.key == "value")`` after ``|``; anything else is refused when the configuration
  is loaded;
- ``managedFieldsManagers``: every field those managers own (``metadata.managedFields``).

Unlike Argo CD, which only stops comparing them, the fields are not written to git at all: a
value that churns (a timestamp an operator stamps, an injected sidecar) makes no commit.
"""

import json
import re
from collections.abc import Mapping
from fnmatch import fnmatchcase
from typing import Annotated, Any, Final

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from backup2gitops.core.cleaning.field_ownership import MISSING, drop_owned, fields_of
from backup2gitops.core.cleaning.objectref import ObjectRef

Step = tuple[Any, ...]
_TOKEN: Final = re.compile(
    r"""\s*(?:
        \.(?P<name>[A-Za-z_][A-Za-z0-9_-]*)
      | \.?"(?P<quoted>(?:[^"\\]|\\.)*)"
      | \.?\[\s*"(?P<bracketed>(?:[^"\\]|\\.)*)"\s*\]
      | \.?\[\s*(?P<index>-?\d+)\s*\]
      | \.?\[\s*\](?P<optional>\?)?
      | \|\s*select\(\s*\.(?P<field>[A-Za-z_][A-Za-z0-9_-]*)\s*==\s*(?P<literal>"(?:[^"\\]|\\.)*"|-?\d+|true|false|null)\s*\)
    )""",
    re.VERBOSE,
)


def parse_path_expression(text: str) -> list[Step]:
    """The steps of a jq-like path; ValueError naming what is not understood."""
    if not text.startswith("."):
        raise ValueError(f"{text!r}: a path starts with '.'")
    steps: list[Step] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise ValueError(
                f"{text!r}: cannot read {text[position:]!r} (supported: .key, "
                '."key", ["key"], [N], [], | select(.key == "value"))'
            )
        groups = match.groupdict()
        if groups["name"] is not None:
            steps.append(("key", groups["name"]))
        elif groups["quoted"] is not None:
            steps.append(("key", json.loads(f'"{groups["quoted"]}"')))
        elif groups["bracketed"] is not None:
            steps.append(("key", json.loads(f'"{groups["bracketed"]}"')))
        elif groups["index"] is not None:
            steps.append(("index", int(groups["index"])))
        elif groups["field"] is not None:
            steps.append(("select", groups["field"], json.loads(groups["literal"])))
        else:
            steps.append(("all",))
        position = match.end()
    if not steps and text.strip() != ".":
        raise ValueError(f"{text!r}: no path")
    return steps


def parse_json_pointer(text: str) -> list[Step]:
    """RFC 6901: ``/a/b~1c/0``; ValueError unless it starts with ``/``."""
    if not text.startswith("/"):
        raise ValueError(f"{text!r}: a JSON pointer starts with '/'")
    return [("pointer", part.replace("~1", "/").replace("~0", "~")) for part in text[1:].split("/")]


def _checked_expression(value: str) -> str:
    parse_path_expression(value)
    return value


def _checked_pointer(value: str) -> str:
    parse_json_pointer(value)
    return value


PathExpression = Annotated[str, AfterValidator(_checked_expression)]
JsonPointer = Annotated[str, AfterValidator(_checked_pointer)]


class IgnoreRule(BaseModel):
    """One ``ignoreDifferences`` entry (Argo CD's field names)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, defer_build=True)

    group: str = Field(default="", description='API group ("" core, "apps"; globs)')
    kind: str = Field(description="Kind (globs: * for every kind)")
    name: str | None = Field(default=None, description="only the object of this name (glob)")
    namespace: str | None = Field(default=None, description="only objects in this namespace")
    json_pointers: list[JsonPointer] = Field(
        default=[], alias="jsonPointers", description="RFC 6901 pointers: /spec/replicas"
    )
    jq_path_expressions: list[PathExpression] = Field(
        default=[],
        alias="jqPathExpressions",
        description='simple jq paths: .spec.template.spec.containers[].image, .a["b/c"], '
        '.x[] | select(.name == "y")',
    )
    managed_fields_managers: list[str] = Field(
        default=[],
        alias="managedFieldsManagers",
        description="every field these managers own (metadata.managedFields) is left out",
    )

    def matches(self, ref: ObjectRef) -> bool:
        if not fnmatchcase(ref.group, self.group) or not fnmatchcase(ref.kind, self.kind):
            return False
        if self.name is not None and not fnmatchcase(ref.name, self.name):
            return False
        return self.namespace is None or fnmatchcase(ref.namespace or "", self.namespace)


def apply_ignore_rules(
    cleaned: dict[str, Any], source: Mapping[str, Any], rules: list[IgnoreRule]
) -> None:
    """Remove from ``cleaned`` what each rule matching ``source`` (as backed up) names."""
    ref = ObjectRef.of(source)
    for rule in rules:
        if not rule.matches(ref):
            continue
        for pointer in rule.json_pointers:
            remove_path(cleaned, parse_json_pointer(pointer))
        for expression in rule.jq_path_expressions:
            remove_path(cleaned, parse_path_expression(expression))
        if rule.managed_fields_managers:
            owned = fields_of(source, rule.managed_fields_managers)
            drop_owned(cleaned, owned, kept=None, written=MISSING)


def remove_path(root: Any, steps: list[Step]) -> int:
    """Remove every value ``steps`` lead to in ``root``; how many were removed. A map left
    empty by that goes too (``annotations: {}`` is no one's), a list stays (``[]`` may mean)."""
    current: list[tuple[Any, Any, Any, Any]] = [(None, None, root, None)]
    for step in steps:
        following: list[tuple[Any, Any, Any, Any]] = []
        for container, key, value, _ in current:
            following.extend((*entry, (container, key)) for entry in _step(value, step))
        if step[0] == "select":
            following = [
                entry
                for entry in current
                if isinstance(entry[2], Mapping) and entry[2].get(step[1], MISSING) == step[2]
            ]
        current = following
    removals: dict[int, tuple[Any, list[Any], Any]] = {}
    for container, key, _, parent in current:
        if container is not None:
            removals.setdefault(id(container), (container, [], parent))[1].append(key)
    count = 0
    for container, keys, parent in removals.values():
        if isinstance(container, list):
            for index in sorted(set(keys), reverse=True):
                del container[index]
                count += 1
        else:
            for key in set(keys):
                container.pop(key, None)
                count += 1
            holder, name = parent if parent is not None else (None, None)
            if not container and isinstance(holder, dict) and holder.get(name) is container:
                del holder[name]
    return count


def _step(value: Any, step: Step) -> list[tuple[Any, Any, Any]]:
    kind = step[0]
    if kind == "select":
        return []
    if kind == "all":
        if isinstance(value, list):
            return [(value, i, item) for i, item in enumerate(value)]
        if isinstance(value, dict):
            return [(value, k, item) for k, item in value.items()]
        return []
    if kind == "pointer":
        if isinstance(value, dict) and step[1] in value:
            return [(value, step[1], value[step[1]])]
        if isinstance(value, list) and step[1].isdigit() and int(step[1]) < len(value):
            return [(value, int(step[1]), value[int(step[1])])]
        return []
    if kind == "key":
        return (
            [(value, step[1], value[step[1]])]
            if isinstance(value, dict) and step[1] in value
            else []
        )
    index = step[1]
    if isinstance(value, list) and -len(value) <= index < len(value):
        return [(value, index % len(value), value[index])]
    return []
