"""A YAML (or JSON) parse error as one line a person can act on: ``FILE:LINE:COLUMN: problem``.

PyYAML's own text is four or five lines (context, a caret under a copy of the line, the
problem); editors and compilers print ``file:line:column: message``, which terminals and
editors turn into a link. Lines and columns count from 1, as editors do.
"""

from __future__ import annotations

import json

import yaml


def describe_parse_error(err: BaseException, *, source: str) -> str:
    """``config.yaml:3:7: mapping values are not allowed here`` (the problem PyYAML or json
    names, where it found it); a message without a position keeps its first line."""
    if isinstance(err, yaml.MarkedYAMLError):
        mark = err.problem_mark or err.context_mark
        problem = err.problem or err.context or "not valid YAML"
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark is not None else source
        context = f" ({err.context})" if err.context and err.problem else ""
        return f"{where}: not valid YAML: {problem}{context}"
    if isinstance(err, json.JSONDecodeError):
        return f"{source}:{err.lineno}:{err.colno}: not valid JSON: {err.msg}"
    first = (str(err).strip().splitlines() or [type(err).__name__])[0]
    return f"{source}: not valid YAML: {first}"
