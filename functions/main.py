"""The functions-framework source of the container image: one ``http`` target per function.

    functions-framework --source main.py --signature-type http --target $FUNCTION_TARGET

Targets: backup_complete, gitops_generator, cluster_backup, health_aggregator, alert_router.
(The ``http`` signature, not ``cloudevent``: see backup2gitops/runtime/http.py for why.)
"""

from alert_router.handler import alert_router
from backup_complete.handler import backup_complete
from cluster_backup.handler import cluster_backup
from gitops_generator.handler import gitops_generator
from health_aggregator.handler import health_aggregator

__all__ = [
    "alert_router",
    "backup_complete",
    "cluster_backup",
    "gitops_generator",
    "health_aggregator",
]
