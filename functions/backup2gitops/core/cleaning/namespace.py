"""Rule for core/v1 Namespaces.

Pure: no I/O; only the standard library.

The API server labels every Namespace ``kubernetes.io/metadata.name=<name>`` (1.21+) and the
namespace lifecycle sets ``spec.finalizers: [kubernetes]``; both are dropped.
"""

from __future__ import annotations

from typing import Any

from backup2gitops.core.cleaning import defaults
from backup2gitops.core.cleaning.context import RuleContext
from backup2gitops.core.cleaning.prune import as_dict, drop_defaults, drop_if_empty


def clean_namespace(obj: dict[str, Any], ctx: RuleContext) -> None:
    metadata = as_dict(obj.get("metadata"))
    labels = as_dict(metadata.get("labels")) if metadata else None
    if metadata is not None and labels is not None:
        if labels.get(defaults.NAMESPACE_NAME_LABEL) == metadata.get("name"):
            del labels[defaults.NAMESPACE_NAME_LABEL]
        drop_if_empty(metadata, ("labels",))
    spec = as_dict(obj.get("spec"))
    if spec is not None:
        drop_defaults(spec, defaults.NAMESPACE_SPEC)
        drop_if_empty(obj, ("spec",))
