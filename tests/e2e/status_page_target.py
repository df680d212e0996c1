"""functions-framework source for the status page's browser test: health-aggregator's own
``SPEC``, served by the real runtime, on a clock fixed by ``$B2G_TEST_NOW`` (ISO 8601), so
ages and staleness do not depend on when or how fast the test runs. Nothing else differs
from ``functions/main.py``'s ``health_aggregator`` target."""

import os
from datetime import datetime

from backup2gitops.config import load_config
from backup2gitops.runtime.context import FunctionContext
from backup2gitops.runtime.http import http_target
from health_aggregator.handler import SPEC

NOW = datetime.fromisoformat(os.environ["B2G_TEST_NOW"])
CONTEXT = FunctionContext(load_config(), clock=lambda: NOW)
health_aggregator = http_target(SPEC, context=lambda: CONTEXT)
