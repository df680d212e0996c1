"""Rule for aggregated ClusterRoles (rbac.authorization.k8s.io/v1).

Pure: no I/O; only the standard library.

A ClusterRole with an ``aggregationRule`` has its ``rules`` written by the
clusterrole-aggregation controller (``pkg/controller/clusterroleaggregation/
clusterroleaggregation_controller.go``): the union of the rules of every ClusterRole its
selectors match, or ``null`` until the controller has run. A person writes the selectors, never
the rules (the API server's own aggregated roles are created with none), so the rules go and
the controller fills them in again wherever the repository is applied.
"""

from __future__ import annotations

from typing import Any

from backup2gitops.core.cleaning.context import RuleContext


def clean_cluster_role(obj: dict[str, Any], ctx: RuleContext) -> None:
    if isinstance(obj.get("aggregationRule"), dict):
        obj.pop("rules", None)
