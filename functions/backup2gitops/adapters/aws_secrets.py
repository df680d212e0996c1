"""Secrets Manager on Lambda: ``BACKUP2GITOPS_<NAME>_SECRET_ARN`` becomes ``BACKUP2GITOPS_<NAME>``.

template.yaml passes secrets as ARNs; the configuration reads them from the environment
(``{env: BACKUP2GITOPS_GIT_TOKEN}``), the same on Knative (Secrets as env) and Lambda. This
resolves each ARN once per cold start with Powertools' cached ``get_secret``. A value already in
the environment wins. A kubeconfig is written to a private file and ``KUBECONFIG`` points at it.
Values are never logged.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, MutableMapping
from pathlib import Path

PREFIX = "BACKUP2GITOPS_"
SUFFIX = "_SECRET_ARN"


def _get_secret(arn: str) -> str:
    from aws_lambda_powertools.utilities import parameters

    value = parameters.get_secret(arn)
    return value if isinstance(value, str) else value.decode()


def resolve_secret_arns(
    environ: MutableMapping[str, str], *, fetch: Callable[[str], str] = _get_secret
) -> list[str]:
    """Fill the environment from the ``*_SECRET_ARN`` variables; returns the names it set."""
    resolved = []
    for key in sorted(environ):
        if not (key.startswith(PREFIX) and key.endswith(SUFFIX)) or not environ[key]:
            continue
        target = key[: -len(SUFFIX)]
        if environ.get(target):
            continue
        value = fetch(environ[key])
        if target.endswith("KUBECONFIG"):
            fd, path = tempfile.mkstemp(prefix="kubeconfig-")  # 0600
            with os.fdopen(fd, "w") as handle:
                handle.write(value)
            environ[target] = path
            environ.setdefault("KUBECONFIG", str(Path(path)))
        else:
            environ[target] = value
        resolved.append(target)
    return resolved
