"""Rules for PriorityClasses and StorageClasses.

Pure: no I/O; only the standard library. Defaults from pkg/apis/scheduling/v1/defaults.go
(``preemptionPolicy: PreemptLowerPriority``) and pkg/apis/storage/v1/defaults.go
(``reclaimPolicy: Delete``, ``volumeBindingMode: Immediate``); each goes unless written.
"""

from __future__ import annotations

from typing import Any

from backup2gitops.core.cleaning import defaults
from backup2gitops.core.cleaning.context import RuleContext
from backup2gitops.core.cleaning.prune import drop_unwritten


def clean_priority_class(obj: dict[str, Any], ctx: RuleContext) -> None:
    drop_unwritten(obj, defaults.PRIORITY_CLASS, ctx.last_applied)


def clean_storage_class(obj: dict[str, Any], ctx: RuleContext) -> None:
    drop_unwritten(obj, defaults.STORAGE_CLASS, ctx.last_applied)
