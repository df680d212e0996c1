"""The functions-framework source of the container image: one ``http`` target per function.

    python -m backup2gitops.runtime.server --source main.py --target $FUNCTION_TARGET

(``runtime.server``: functions-framework's app for the target, under gunicorn with the HTTP
edge's header and body deadlines; ``functions-framework --source main.py --signature-type http``
serves the same targets without them.)

Targets: backup_complete, gitops_generator, cluster_backup, health_aggregator, alert_router.
(The ``http`` signature, not ``cloud_event``: see backup2gitops/runtime/http.py for why.)

When ``$FUNCTION_TARGET`` names a function, its configuration is checked here, at import, so a
function that must not serve (backup-complete without a webhook token) stops the server from
starting instead of answering requests.
"""

import os

from alert_router.handler import SPEC as ALERT_ROUTER
from alert_router.handler import alert_router
from backup2gitops.runtime.context import default_context
from backup2gitops.runtime.http import refuse_unless_ready
from backup_complete.handler import SPEC as BACKUP_COMPLETE
from backup_complete.handler import backup_complete
from cluster_backup.handler import SPEC as CLUSTER_BACKUP
from cluster_backup.handler import cluster_backup
from gitops_generator.handler import SPEC as GITOPS_GENERATOR
from gitops_generator.handler import gitops_generator
from health_aggregator.handler import SPEC as HEALTH_AGGREGATOR
from health_aggregator.handler import health_aggregator

_SPECS = {
    spec.name.replace("-", "_"): spec
    for spec in (ALERT_ROUTER, BACKUP_COMPLETE, CLUSTER_BACKUP, GITOPS_GENERATOR, HEALTH_AGGREGATOR)
}
if os.environ.get("FUNCTION_TARGET") in _SPECS:
    refuse_unless_ready(_SPECS[os.environ["FUNCTION_TARGET"]], default_context())

__all__ = [
    "alert_router",
    "backup_complete",
    "cluster_backup",
    "gitops_generator",
    "health_aggregator",
]
