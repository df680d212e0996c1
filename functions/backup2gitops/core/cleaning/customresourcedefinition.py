"""Rule for apiextensions.k8s.io/v1 CustomResourceDefinitions.

Pure: no I/O; only the standard library. The v1 defaulter sets ``spec.conversion`` to
``{strategy: None}``
(staging/src/k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1/defaults.go).
"""

from __future__ import annotations

from typing import Any

from backup2gitops.core.cleaning import defaults
from backup2gitops.core.cleaning.context import RuleContext
from backup2gitops.core.cleaning.prune import as_dict, drop_defaults


def clean_crd(obj: dict[str, Any], ctx: RuleContext) -> None:
    spec = as_dict(obj.get("spec"))
    if spec is not None:
        drop_defaults(spec, defaults.CRD_SPEC)
