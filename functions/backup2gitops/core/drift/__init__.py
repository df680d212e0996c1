"""Drift: the sensitive changes between two commits of one cluster's folder.

Pure: no I/O; the standard library, pydantic, and ``core.kube_yaml`` to parse the tip's files.
``comparison`` gathers the objects a commit added, changed or removed and the roles the changed
bindings refer to: from the generator's plan as it writes the commit (``TipComparison``), or read
back from git for a redelivered backup (``adapters.git.changes``); this package classifies them
with the rule table ``RULES``. Each rule says why the change matters (the CIS Kubernetes
Benchmark v1.8 item, or the Kubernetes documentation) and has a fixed severity, so an alert's
label set - Alertmanager's identity - is stable per rule and object.

A finding is about what a commit *grants or opens*, not about what a cluster is: an object that
was already there and did not change raises nothing, and the first commit of a cluster (no
earlier folder to compare with) is the baseline, not a finding per object.

Laid out like ``core.cleaning``: ``changes`` (what is compared), ``comparison`` (one commit
against its parent, from the plan), ``catalogue`` (the checks),
``table`` (``RULES``: rule, severity, reason, kinds, check), ``policy`` (the ``drift:`` settings),
``engine`` (``findings``). The package imports ``policy`` (the configuration's) and the
table it names with itself; ``comparison`` and ``engine`` with the first of their names asked for
(``core.lazy_exports``).
"""

from typing import TYPE_CHECKING

from backup2gitops.core.drift.catalogue import credentials_in_clear, granted, pod_spec, role_key
from backup2gitops.core.drift.changes import (
    WATCHED_RESOURCES,
    Comparison,
    Facts,
    Obj,
    ObjectChange,
    RoleKey,
)
from backup2gitops.core.drift.policy import DriftAllow, DriftPolicy
from backup2gitops.core.drift.table import RULE_IDS, RULES, Check, Rule, RuleId
from backup2gitops.core.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from backup2gitops.core.drift.comparison import (
        TipComparison,
        committed_object,
        namespace_of,
        role_path,
        watched,
    )
    from backup2gitops.core.drift.engine import findings, referenced_roles
else:  # with the tip's files (PyYAML): imported when first asked for (``core.lazy_exports``)
    __getattr__ = lazy_exports(
        __name__,
        {
            "TipComparison": "comparison",
            "committed_object": "comparison",
            "namespace_of": "comparison",
            "role_path": "comparison",
            "watched": "comparison",
            "findings": "engine",
            "referenced_roles": "engine",
        },
    )

__all__ = [
    "RULES",
    "RULE_IDS",
    "WATCHED_RESOURCES",
    "Check",
    "Comparison",
    "DriftAllow",
    "DriftPolicy",
    "Facts",
    "Obj",
    "ObjectChange",
    "RoleKey",
    "Rule",
    "RuleId",
    "TipComparison",
    "committed_object",
    "credentials_in_clear",
    "findings",
    "granted",
    "namespace_of",
    "pod_spec",
    "referenced_roles",
    "role_key",
    "role_path",
    "watched",
]
