"""Rule for apiextensions.k8s.io/v1 CustomResourceDefinitions.

Pure: no I/O; only the standard library. The v1 defaulter sets ``spec.conversion`` to
``{strategy: None}``, ``names.listKind`` to ``<kind>List`` and ``names.singular`` to the kind in
lower case (staging/src/k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1/defaults.go);
each goes unless the person wrote it.
"""

from __future__ import annotations

from typing import Any

from backup2gitops.core.cleaning import defaults
from backup2gitops.core.cleaning.context import RuleContext
from backup2gitops.core.cleaning.prune import as_dict, drop_unwritten, written_part


def clean_crd(obj: dict[str, Any], ctx: RuleContext) -> None:
    spec = as_dict(obj.get("spec"))
    if spec is None:
        return
    written = written_part(ctx.last_applied, "spec")
    drop_unwritten(spec, defaults.CRD_SPEC, written)
    names = as_dict(spec.get("names"))
    kind = names.get("kind") if names else None
    if names is not None and isinstance(kind, str):
        derived = {"listKind": f"{kind}List", "singular": kind.lower()}
        drop_unwritten(names, derived, written_part(written, "names"))
