"""The alert routing tree: which receivers an alert goes to, with Alertmanager's semantics.

Pure: no I/O, no SDK.

- a route matches when all its matchers match the alert's attributes (its labels, plus the
  event's ``type``, ``source``, ``subject``, ``status`` and extensions);
- a matcher is ``exact``, a glob (``*``, ``?``, ``[...]``), ``=~regex`` (anchored), or the
  negations ``!=value`` / ``!=glob`` and ``!~regex``; a list of values means any of them;
  Alertmanager's string form ``name=~value`` is accepted in ``matchers``;
- the children of a matching route are tried first; when none matches, the route itself
  handles the alert; among siblings the first match wins unless it says ``continue: true``.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from backup2gitops.core.errors import Backup2GitopsError

if TYPE_CHECKING:  # the configuration checks routes without the event catalog
    from backup2gitops.core.alerts import Alert


class RoutingError(Backup2GitopsError, ValueError):
    """A route or matcher cannot be understood."""

    code = "invalid_route"


MatchOp = Literal["=", "!=", "=~", "!~"]
_MATCHER = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$")
_GLOB = re.compile(r"[*?\[]")


@dataclass(frozen=True)
class Matcher:
    name: str
    op: MatchOp
    values: tuple[str, ...]
    patterns: tuple[re.Pattern[str], ...]

    def matches(self, attributes: Mapping[str, str]) -> bool:
        value = attributes.get(self.name, "")
        hit = any(pattern.fullmatch(value) for pattern in self.patterns)
        return not hit if self.op in ("!=", "!~") else hit


def matcher(name: str, spec: str | Sequence[str]) -> Matcher:
    """``name`` against ``value``/glob, ``=~re``, ``!=value``/glob or ``!~re``; a list = any."""
    specs = [spec] if isinstance(spec, str) else list(spec)
    if not specs:
        raise RoutingError(f"match.{name}: empty list")
    ops = {_op_of(s) for s in specs}
    if len(ops) != 1:
        raise RoutingError(f"match.{name}: mixes operators in one list")
    op = ops.pop()
    values = tuple(s[len(op) :] if s.startswith(op) and op != "=" else s for s in specs)
    return _compiled(name, op, values)


def _op_of(spec: str) -> MatchOp:
    for op in ("=~", "!~", "!="):
        if spec.startswith(op):
            return op
    return "="


def _compiled(name: str, op: MatchOp, values: tuple[str, ...]) -> Matcher:
    patterns = []
    for value in values:
        try:
            if op in ("=~", "!~"):
                patterns.append(re.compile(value))
            elif _GLOB.search(value):
                patterns.append(re.compile(fnmatch.translate(value)))
            else:
                patterns.append(re.compile(re.escape(value)))
        except re.error as exc:
            raise RoutingError(f"match.{name}: invalid regex {value!r}: {exc}") from exc
    return Matcher(name=name, op=op, values=values, patterns=tuple(patterns))


def parse_matcher(text: str) -> Matcher:
    """Alertmanager's string form: ``severity=~"critical|warning"``."""
    found = _MATCHER.match(text)
    if not found:
        raise RoutingError(f"matchers: cannot parse {text!r} (want name=value, !=, =~ or !~)")
    name, op, value = found.groups()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    return _compiled(name, op, (value,))  # type: ignore[arg-type]


@dataclass(frozen=True)
class Route:
    matchers: tuple[Matcher, ...] = ()
    receivers: tuple[str, ...] = ()
    continue_: bool = False
    routes: tuple[Route, ...] = ()

    def matches(self, attributes: Mapping[str, str]) -> bool:
        return all(m.matches(attributes) for m in self.matchers)


def parse_route(raw: Mapping[str, Any]) -> Route:
    """A route from its configuration mapping (``match``, ``matchers``, ``receivers``, ...)."""
    found = [matcher(str(name), spec) for name, spec in (raw.get("match") or {}).items()]
    found += [parse_matcher(text) for text in raw.get("matchers") or ()]
    return Route(
        matchers=tuple(found),
        receivers=tuple(raw.get("receivers") or ()),
        continue_=bool(raw.get("continue", raw.get("continue_", False))),
        routes=tuple(parse_route(child) for child in raw.get("routes") or ()),
    )


def parse_tree(routes: Iterable[Mapping[str, Any]]) -> Route:
    """The configured top-level routes under an implicit root that matches everything."""
    return Route(routes=tuple(parse_route(raw) for raw in routes))


def route(tree: Route, alert: Alert) -> list[str]:
    """The receivers for ``alert``, each once, in the order the tree names them."""
    chosen: list[str] = []
    for name in _walk(tree, alert.match_attributes()) or []:
        if name not in chosen:
            chosen.append(name)
    return chosen


def _walk(node: Route, attributes: Mapping[str, str]) -> list[str] | None:
    if not node.matches(attributes):
        return None
    found: list[str] = []
    matched_child = False
    for child in node.routes:
        receivers = _walk(child, attributes)
        if receivers is None:
            continue
        matched_child = True
        found.extend(receivers)
        if not child.continue_:
            break
    return found if matched_child else list(node.receivers)
