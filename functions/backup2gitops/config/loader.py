"""Configuration: one YAML file, ``${VAR}`` expansion, environment overrides, defaults, validation.

The whole file is checked when it is loaded (``config validate``, and every function's cold
start): unknown keys anywhere are errors (a typo must not pass), enumerations are strict, the
cleaning policy is ``core.cleaning.CleaningSettings`` itself, transforms and receiver types must
be installed, cross-field rules (sops needs recipients and a digest key, review mode needs its project) hold, and
URLs carry no credentials. Every error names its field: ``generator.cleaning.secrets: must be one
of exclude, redact, sops, plaintext (got 'encrypt')``.

- ``${VAR}`` and ``${VAR:-default}`` are expanded from the environment *after* YAML parsing, in
  string values only: a ``${VAR}`` in a comment is just a comment, and a value holding `` #``
  is never cut. An unset variable without a default is an error naming the field that uses it.
  Inside a flow collection (``{...}``, ``[...]``) quote it: ``{url: "${REMOTE}"}``.
- ``BACKUP2GITOPS__SECTION__FIELD=value`` overrides any field (``__`` separates levels;
  the value is parsed as YAML, so ``true``, ``5`` and ``[a, b]`` work).
- Credentials never live in the file: a secret field holds a *reference*
  (``{env: NAME}`` or ``{file: /var/run/secrets/...}``), resolved when used and never printed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from backup2gitops.core.errors import Backup2GitopsError

if TYPE_CHECKING:  # the models (and yaml) are loaded with the first configuration
    from pydantic import ValidationError
    from pydantic_core import ErrorDetails

    from backup2gitops.config.model import Config

__all__ = [
    "CONFIG_ENV",
    "ENV_PREFIX",
    "PACKAGED_CONFIG",
    "ConfigError",
    "config_file",
    "describe_error",
    "expand_variables",
    "load_config",
    "parse_config",
]

ENV_PREFIX = "BACKUP2GITOPS__"
CONFIG_ENV = "BACKUP2GITOPS_CONFIG"
PACKAGED_CONFIG = Path(__file__).parent.parent / "config.yaml"
"""The configuration template.yaml's functions start with (inside the package: the Lambda zip,
the wheel); the Lambda runtime falls back to it when ``$BACKUP2GITOPS_CONFIG`` is empty."""
_PACKAGE_ROOT = Path(__file__).resolve().parent.parent.parent
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class ConfigError(Backup2GitopsError):
    """The configuration cannot be used; the message names the field or variable."""

    code = "invalid_configuration"


def expand_variables(text: str, environ: Mapping[str, str], *, where: str = "") -> str:
    """``text`` with every ``${VAR}`` / ``${VAR:-default}`` replaced from ``environ``.

    Written here, measured against pydantic-settings 2.14 (docs/decisions.md, "Hand-written,
    and why"): it has no ``${VAR}`` expansion (its YAML source loads values as written), and
    its ``env_nested_delimiter="__"`` source, beside ``_apply_overrides``, takes a misspelt
    section (``BACKUP2GITOPS__GTI__BRANCH``) silently, refuses a YAML list (``[a, b]``) and
    names no variable in its errors; these name the field and the variable.
    """
    missing: list[str] = []

    def substitute(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in environ:
            return environ[name]
        if default is not None:
            return default
        missing.append(name)
        return ""

    prefix = f"{where}: " if where else ""
    if text.count("${") != len(_VAR.findall(text)):
        raise ConfigError(
            f"{prefix}a malformed ${{...}} reference (in a plain YAML value ' #' starts a "
            "comment and cuts it: quote the value)"
        )
    expanded = _VAR.sub(substitute, text)
    if missing:
        names = ", ".join(f"${{{name}}}" for name in missing)
        raise ConfigError(f"{prefix}{names} is not set and has no default (${{NAME:-default}})")
    return expanded


def _expand_tree(node: Any, environ: Mapping[str, str], path: tuple[str | int, ...]) -> Any:
    """Expand variables in the string values of a parsed document (never in keys)."""
    if isinstance(node, str):
        return expand_variables(node, environ, where=_where(path)) if "${" in node else node
    if isinstance(node, dict):
        return {key: _expand_tree(value, environ, (*path, key)) for key, value in node.items()}
    if isinstance(node, list):
        return [_expand_tree(value, environ, (*path, i)) for i, value in enumerate(node)]
    return node


def _overrides(environ: Mapping[str, str]) -> dict[tuple[str, ...], str]:
    """Field path -> the ``BACKUP2GITOPS__...`` variable that sets it."""
    found = {}
    for key in environ:
        if key.startswith(ENV_PREFIX):
            found[tuple(p.lower() for p in key[len(ENV_PREFIX) :].split("__") if p)] = key
    return found


_PLAIN_WORD = re.compile(r"[A-Za-z/][A-Za-z0-9_./-]*")
"""A value YAML reads as itself, a string: it starts with a letter or a slash (no number, date
or ``.inf``), holds no character YAML gives a meaning to; ``_YAML_WORDS`` apart."""
_YAML_WORDS = frozenset(
    variant
    for word in ("yes", "no", "true", "false", "on", "off", "null")
    for variant in (word, word.capitalize(), word.upper())
)
"""The plain words YAML 1.1 (PyYAML's) reads as a boolean or a null."""


def override_value(value: str) -> Any:
    """An override's value as YAML reads it (``30`` a number, ``true`` a boolean, ``[a, b]`` a
    list...). A path or a name is itself, without importing YAML for it (the common case: a
    cache directory, a bucket; tests/unit/test_config_overrides.py holds it to YAML)."""
    if _PLAIN_WORD.fullmatch(value) and value not in _YAML_WORDS:
        return value
    import yaml

    return yaml.safe_load(value)


def _apply_overrides(raw: dict[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    overrides = sorted((key, value) for key, value in environ.items() if key.startswith(ENV_PREFIX))
    for key, value in overrides:
        path = [part.lower() for part in key[len(ENV_PREFIX) :].split("__") if part]
        node = raw
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"{key}: {'.'.join(path)} does not name a section")
            node = child
        node[path[-1]] = override_value(value)
    return raw


def _where(loc: tuple[str | int, ...] | list[str | int]) -> str:
    """``("alerts", "receivers", 0, "slack", "url")`` -> ``alerts.receivers[0].url``."""
    from backup2gitops.config.receivers import RECEIVER_TAGS

    text = ""
    after_index = False
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
            after_index = True
            continue
        if after_index and part in RECEIVER_TAGS:  # the receiver union's tag, not a field
            after_index = False
            continue
        after_index = False
        text += f".{part}" if text else str(part)
    return text or "(root)"


@cache
def _field_names() -> frozenset[str]:
    """Every field name of every section, for "did you mean" hints on unknown keys."""
    from backup2gitops.config.model import Config

    names: set[str] = set()

    def walk(schema: Any) -> Iterator[str]:
        if isinstance(schema, dict):
            yield from (schema.get("properties") or {}).keys()
            for value in schema.values():
                yield from walk(value)
        elif isinstance(schema, list):
            for value in schema:
                yield from walk(value)

    names.update(walk(Config.model_json_schema()))
    return frozenset(names)


def _message(err: ErrorDetails) -> tuple[tuple[str | int, ...], str]:
    """Where and what, in words; never the offending value, except for enumerations."""
    from backup2gitops.config.types import FieldProblem

    loc = tuple(err["loc"])
    kind = err["type"]
    ctx = err.get("ctx") or {}
    if kind == "literal_error":
        expected = str(ctx.get("expected", "")).replace("'", "").replace(" or ", ", ")
        return loc, f"must be one of {expected} (got {err['input']!r})"
    if kind == "extra_forbidden":
        import difflib

        close = difflib.get_close_matches(str(loc[-1]), sorted(_field_names()), n=1)
        return loc, "unknown field" + (f" (did you mean {close[0]}?)" if close else "")
    if kind == "missing":
        return loc, "required"
    if kind == "value_error":
        error = ctx.get("error")
        if isinstance(error, FieldProblem):
            return (*loc, *error.loc), error.message
        return loc, str(error) if error is not None else err["msg"]
    return loc, err["msg"]


def describe_error(
    exc: ValidationError, overrides: Mapping[tuple[str, ...], str] | None = None
) -> str:
    """One line: ``field: problem; field: problem`` (``(from $VAR)`` when an override set it)."""
    lines: list[str] = []
    for err in exc.errors():
        loc, text = _message(err)
        line = f"{_where(loc)}: {text}"
        fields = tuple(str(part) for part in loc)
        origin = next(
            (var for path, var in (overrides or {}).items() if fields[: len(path)] == path), None
        )
        if origin:
            line += f" (from ${origin})"
        if line not in lines:
            lines.append(line)
    return "; ".join(lines)


def parse_config(
    text: str, environ: Mapping[str, str] | None = None, *, source: str = "configuration"
) -> Config:
    """The configuration ``text`` holds, checked whole (the models are built here, the first
    time: ``backup2gitops.config``); ConfigError naming the field otherwise."""
    import yaml

    env = environ if environ is not None else os.environ
    try:
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        from backup2gitops.core.yaml_errors import describe_parse_error

        hint = ""
        if "${" in text:
            hint = ' (a ${VAR} inside {...} or [...] must be quoted: "${VAR}")'
        raise ConfigError(describe_parse_error(exc, source=source) + hint) from exc
    if not isinstance(raw, dict):
        raise ConfigError("the configuration must be a YAML mapping")
    return _checked(raw, env)


def _checked(raw: dict[str, Any], env: Mapping[str, str]) -> Config:
    """The configuration ``raw`` (parsed) holds, its variables expanded and the overrides
    applied, checked whole; ConfigError naming the field otherwise."""
    from pydantic import ValidationError

    from backup2gitops.config.model import validate_config

    expanded = _expand_tree(raw, env, ())
    try:
        return validate_config(_apply_overrides(expanded, env))
    except ValidationError as exc:
        raise ConfigError(describe_error(exc, _overrides(env))) from exc


def config_file(chosen: str | Path) -> Path:
    """``chosen``; a relative path that is not under the working directory is read from the
    package's root instead (``backup2gitops/config.yaml`` is found wherever the process starts,
    e.g. a Lambda function whatever its working directory)."""
    path = Path(chosen)
    if path.is_absolute() or path.exists():
        return path
    inside = _PACKAGE_ROOT / path
    return inside if inside.is_file() else path


def load_config(
    path: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    default: Path | None = None,
) -> Config:
    """Load from ``path``, else ``$BACKUP2GITOPS_CONFIG``, else ``default``, else the embedded
    defaults (+ overrides)."""
    env = environ if environ is not None else os.environ
    chosen = path or env.get(CONFIG_ENV) or default
    if not chosen:
        return _checked({}, env)  # the embedded defaults: no text to parse
    try:
        text = config_file(chosen).read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read configuration {chosen}: {exc.strerror}") from exc
    return parse_config(text, env, source=str(chosen))
