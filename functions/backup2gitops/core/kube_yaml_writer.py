"""A YAML writer for JSON-shaped objects that writes exactly the bytes PyYAML writes for them.

Pure: no I/O; only the standard library and PyYAML (its resolver table and, for a rare scalar,
its emitter).

``manifest_yaml.dump`` used to hand every object to PyYAML, whose Python representer walks each
node before libyaml emits it: half of a 10,000-object generation (issue 17's profile). Kubernetes
objects as JSON decodes them need little of YAML: block mappings and sequences, ``{}``/``[]``,
plain or single-quoted scalars, and literal blocks for multi-line strings. This module writes
those directly, following PyYAML's emitter (``yaml/emitter.py``: ``analyze_scalar``,
``choose_scalar_style``, ``write_literal``; libyaml's ``emitter.c`` agrees on this subset) with
the settings ``manifest_yaml`` uses: block style, indent 2, sequences in mappings not indented,
unicode kept, no line width.

Whatever falls outside that subset raises ``Unsupported`` and ``manifest_yaml.dump`` asks
PyYAML for the whole object: non-string keys, empty keys and keys of 120 characters or more
(PyYAML and libyaml disagree whether a key of 123-127 characters is "simple"), multi-line keys,
non-ASCII or non-printable characters in a multi-line string or a key, a multi-line string
PyYAML cannot write as a literal block (trailing space, a space before a line break) or that
ends in two line breaks (``|+``, which may add a ``...`` document end), floats that do not read
back as floats, and any other type. A single-line value with characters outside printable
ASCII is written by PyYAML's emitter alone (one scalar), since only it knows how to escape them.
tests/unit/cleaning/test_manifest_writer.py compares both writers byte for byte on every golden
case, the sample backup and a generated corpus of awkward strings.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any, Final

import yaml

from backup2gitops.core.errors import Backup2GitopsError

_STR: Final = "tag:yaml.org,2002:str"
_FLOAT: Final = "tag:yaml.org,2002:float"
_RESOLVERS: Final = yaml.SafeDumper.yaml_implicit_resolvers
_WILDCARD: Final = tuple(_RESOLVERS.get(None, ()))
_LONGEST_KEY: Final = 119
# A printable-ASCII, single-line string that PyYAML may not write plain in block context:
# an indicator first, "- "/"? "/": " first, a document marker, a leading or trailing space,
# a trailing ":", ": " or " #" inside (analyze_scalar's block_indicators and leading/trailing
# spaces).
_NOT_PLAIN: Final = re.compile(r"^(?:[ #,\[\]{}&*!|>'\"%@`]|[?:-](?: |$)|---|\.\.\.)|[ :]$|: | #")
_EmitterBase: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class Unsupported(Backup2GitopsError, ValueError):
    """The object holds something this writer does not write; use PyYAML for it."""

    code = "yaml_unsupported"


def write(obj: dict[str, Any], *, top_order: Sequence[str], metadata_order: Sequence[str]) -> str:
    """``obj`` as block YAML: ``top_order`` keys first at the top, ``metadata_order`` keys first
    in every mapping under a ``metadata`` key, every other key sorted."""
    if type(obj) is not dict or not obj:
        raise Unsupported("the document is not a non-empty dict")
    out: list[str] = []
    try:
        _mapping(obj, _keys(obj, tuple(top_order)), tuple(metadata_order), "", "", out)
    except TypeError:  # keys of different types do not sort
        raise Unsupported("keys of different types") from None
    return "".join(out)


def _keys(mapping: dict[Any, Any], first: tuple[str, ...]) -> list[str]:
    """The keys in their order: ``first`` (those present), then the rest sorted. A key that is
    not a ``str`` is refused by ``_mapping``; keys of two types do not sort (a TypeError,
    which ``write`` turns into ``Unsupported``)."""
    if not first:
        return sorted(mapping)
    rest = sorted(key for key in mapping if key not in first)
    return [key for key in first if key in mapping] + rest


def _mapping(
    mapping: dict[str, Any],
    keys: list[str],
    metadata_order: tuple[str, ...],
    pad: str,
    first_pad: str,
    out: list[str],
) -> None:
    """``mapping``'s ``keys`` at ``pad``; the first line starts with ``first_pad`` instead (a
    sequence item's ``- ``). One branch per JSON type, the commonest first."""
    inner = pad + "  "
    line_pad = first_pad
    append = out.append
    for key in keys:
        if type(key) is not str:
            raise Unsupported(f"a {type(key).__name__} key")
        head = line_pad + (_HEADS.get(key) or _head(key))
        line_pad = pad
        value = mapping[key]
        kind = type(value)
        if kind is str:
            if "\n" in value:
                append(f"{head} {_literal(value, inner)}")
            else:
                append(f"{head} {_single(value)}\n")
        elif kind is dict:
            if value:
                append(head + "\n")
                if key == "metadata":
                    _mapping(value, _keys(value, metadata_order), metadata_order, inner, inner, out)
                else:
                    _mapping(value, sorted(value), metadata_order, inner, inner, out)
            else:
                append(head + " {}\n")
        elif kind is list or kind is tuple:
            if value:
                append(head + "\n")
                _sequence(value, metadata_order, pad, pad, out)  # not indented, as PyYAML
            else:
                append(head + " []\n")
        elif value is None:
            append(head + " null\n")
        elif kind is int:
            append(f"{head} {value}\n")
        else:
            append(f"{head} {_other(value)}\n")


def _sequence(
    items: Sequence[Any],
    metadata_order: tuple[str, ...],
    pad: str,
    first_pad: str,
    out: list[str],
) -> None:
    inner = pad + "  "
    line_pad = first_pad
    for item in items:
        dash = line_pad + "- "
        line_pad = pad
        kind = type(item)
        if kind is str:
            if "\n" in item:
                out.append(dash + _literal(item, inner))
            else:
                out.append(f"{dash}{_single(item)}\n")
        elif kind is dict:
            if item:
                _mapping(item, sorted(item), metadata_order, inner, dash, out)
            else:
                out.append(dash + "{}\n")
        elif kind is list or kind is tuple:
            if item:
                _sequence(item, metadata_order, inner, dash, out)
            else:
                out.append(dash + "[]\n")
        else:
            out.append(f"{dash}{_other(item)}\n")


_HEADS: dict[str, str] = {}
"""``key:`` for each key written so far (a few hundred distinct ones in a backup)."""
_MOST_HEADS: Final = 1 << 12  # bounded as ``_single``'s cache: each held entry is memory


def _head(key: str) -> str:
    head = _key(key) + ":"
    if len(_HEADS) < _MOST_HEADS:
        _HEADS[key] = head
    return head


def _key(key: str) -> str:
    if not key or len(key) > _LONGEST_KEY or not (key.isascii() and key.isprintable()):
        raise Unsupported("a key PyYAML may not write as a simple key")
    return _single(key)


@lru_cache(maxsize=1 << 12)  # repeated values; 65,536 held every kustomization entry
def _single(value: str) -> str:
    """A single-line string as PyYAML writes it in block context (not as a key when empty)."""
    if value.isascii() and value.isprintable():
        if value and not _NOT_PLAIN.search(value) and _resolves_to(value) == _STR:
            return value
        return "'" + value.replace("'", "''") + "'"
    return _by_pyyaml(value)


def _literal(value: str, indent: str) -> str:
    """A multi-line string as a literal block whose lines are indented by ``indent``."""
    if not (value.isascii() and value.replace("\n", "").isprintable()):
        raise Unsupported("a multi-line string with characters outside printable ASCII")
    if value.endswith(" ") or " \n" in value:
        raise Unsupported("a multi-line string PyYAML writes double-quoted")
    hints = "2" if value[0] in " \n" else ""
    if value[-1] != "\n":
        hints += "-"
    elif len(value) == 1 or value[-2] == "\n":
        raise Unsupported("a literal block kept with '+' (PyYAML may end the document)")
    lines = value.split("\n")
    if value[-1] == "\n":
        lines.pop()
    body = "".join(f"{indent}{line}\n" if line else "\n" for line in lines)
    return f"|{hints}\n{body}"


def _other(value: Any) -> str:
    if value is None:
        return "null"
    kind = type(value)
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return str(value)
    if kind is float:
        text = _float(value)
        if _resolves_to(text) == _FLOAT:
            return text
    raise Unsupported(f"a {kind.__name__} value")


def _float(value: float) -> str:
    """SafeRepresenter.represent_float."""
    if math.isnan(value):
        return ".nan"
    if value == float("inf"):
        return ".inf"
    if value == float("-inf"):
        return "-.inf"
    text = repr(value).lower()
    if "." not in text and "e" in text:
        text = text.replace("e", ".0e", 1)
    return text


def _resolves_to(value: str) -> str:
    """The tag PyYAML's resolver gives ``value`` written plain (``Resolver.resolve``)."""
    for tag, regexp in (*_RESOLVERS.get(value[0] if value else "", ()), *_WILDCARD):
        if regexp.match(value):
            return str(tag)
    return _STR


def _by_pyyaml(value: str) -> str:
    text: str = yaml.dump(
        {"k": value},
        Dumper=_EmitterBase,
        default_flow_style=False,
        allow_unicode=True,
        width=2**31 - 1,
        indent=2,
    )
    if not text.startswith("k: ") or len(text.splitlines()) != 1:  # also NEL, LS, PS, CR...
        raise Unsupported("a scalar PyYAML writes on several lines")
    return text[3:-1]
