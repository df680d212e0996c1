"""Label selectors in kubectl syntax: ``a=b,c!=d,e,!f,g in (x,y),h notin (z)``.

Pure: no I/O; only the standard library.

Semantics follow k8s.io/apimachinery/pkg/labels/selector.go: requirements are ANDed; ``!=`` and
``notin`` also match objects without the label; ``=`` and ``==`` are the same operator.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Literal, NamedTuple

Operator = Literal["=", "!=", "in", "notin", "exists", "!"]

_KEY = r"[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?"
_VALUE = r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?"
_SET = re.compile(rf"^(?P<key>{_KEY})\s+(?P<op>in|notin)\s*\((?P<values>[^()]*)\)$")
_EQ = re.compile(rf"^(?P<key>{_KEY})\s*(?P<op>==|!=|=)\s*(?P<value>{_VALUE})$")
_EXISTS = re.compile(rf"^(?P<not>!)?\s*(?P<key>{_KEY})$")
_VALUE_ONLY = re.compile(rf"^{_VALUE}$")


class Requirement(NamedTuple):
    key: str
    operator: Operator
    values: frozenset[str] = frozenset()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        match self.operator:
            case "exists":
                return present
            case "!":
                return not present
            case "=" | "in":
                return present and labels[self.key] in self.values
            case "!=" | "notin":
                return not present or labels[self.key] not in self.values
        return False  # pragma: no cover - exhaustive match above


class LabelSelector(NamedTuple):
    requirements: tuple[Requirement, ...]

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(requirement.matches(labels) for requirement in self.requirements)


@lru_cache(maxsize=64)  # asked for every object (``CleaningPolicy.selector``); immutable result
def parse_selector(text: str) -> LabelSelector:
    """Parse a kubectl label selector; raise ValueError naming the bad requirement."""
    return LabelSelector(tuple(_parse_requirement(part) for part in _split(text)))


def _split(text: str) -> list[str]:
    parts: list[str] = []
    depth = 0
    current: list[str] = []
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                raise ValueError(f"unbalanced ')' in label selector {text!r}")
        if char == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    if depth:
        raise ValueError(f"unbalanced '(' in label selector {text!r}")
    parts.append("".join(current).strip())
    if parts == [""]:
        return []
    if any(not part for part in parts):
        raise ValueError(f"empty requirement in label selector {text!r}")
    return parts


def _parse_requirement(part: str) -> Requirement:
    if found := _SET.match(part):
        values = [value.strip() for value in found["values"].split(",")]
        if any(not _VALUE_ONLY.match(value) for value in values):
            raise ValueError(f"invalid value in label selector requirement {part!r}")
        op: Operator = "in" if found["op"] == "in" else "notin"
        return Requirement(found["key"], op, frozenset(values))
    if found := _EQ.match(part):
        eq: Operator = "!=" if found["op"] == "!=" else "="
        return Requirement(found["key"], eq, frozenset({found["value"]}))
    if found := _EXISTS.match(part):
        return Requirement(found["key"], "!" if found["not"] else "exists")
    raise ValueError(f"invalid label selector requirement {part!r}")
