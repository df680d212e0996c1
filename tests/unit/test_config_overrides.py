"""An override's value (``BACKUP2GITOPS__SECTION__FIELD``) is read as YAML reads it; a plain
name or path is taken as itself without importing YAML (``config.loader.override_value``)."""

from __future__ import annotations

import string
from collections.abc import Callable
from typing import Any

import yaml
from hypothesis import given
from hypothesis import strategies as st

from backup2gitops.config.loader import override_value

SAMPLES = [
    "/var/cache/backup2gitops",
    "main",
    "gitops-bot",
    "a.b-c_d/e",
    "yes",
    "Yes",
    "YES",
    "no",
    "on",
    "Off",
    "true",
    "False",
    "null",
    "NULL",
    "y",
    "n",
    "~",
    "30",
    "1.5",
    "0x1f",
    "1e3",
    ".inf",
    ".NaN",
    "-1",
    "2026-12-07",
    "12:30",
    "<<",
    "=",
    "[a, b]",
    "{k: v}",
    "a: b",
    "a #b",
    "'quoted'",
    "",
    " spaced ",
    "café",
    "/",
]


def reading(read: Callable[[str], Any], value: str) -> tuple[str, str]:
    """What ``read`` makes of ``value``: its type and text (NaN is not equal to itself), or
    the error it raises."""
    try:
        made = read(value)
    except yaml.YAMLError as exc:
        return "refused", type(exc).__name__
    return type(made).__name__, repr(made)


def same(value: str) -> bool:
    return reading(override_value, value) == reading(yaml.safe_load, value)


def test_every_sample_is_what_yaml_reads() -> None:
    for value in SAMPLES:
        assert same(value), value


@given(st.text(alphabet=string.ascii_letters + string.digits + "_./-:~ #", max_size=12))
def test_any_short_value_is_what_yaml_reads(value: str) -> None:
    assert same(value)
