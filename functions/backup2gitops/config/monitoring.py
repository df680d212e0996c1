"""The configuration of what watches the flow: health-aggregator's checks and thresholds
(``health``) and alert-router's receivers, routing tree and records (``alerts``).

One strict section per part of the file; the root ``Config`` is ``config.model``'s.
"""

from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from backup2gitops.config.receivers import ConsoleReceiverConfig, ReceiverConfig
from backup2gitops.config.types import Duration, FieldProblem, PlainUrl, SecretRef, Strict
from backup2gitops.core.model_defaults import empty_list


class HealthConfig(Strict):
    max_backup_age: Duration = timedelta(hours=26)
    max_gitops_lag: Duration = Field(
        default=timedelta(hours=1),
        description="how long the newest backup may wait for its commit before lag is degraded",
    )
    check_timeout_s: float = Field(default=5.0, gt=0)
    state_key: str = "state/health.json"
    kubernetes: bool = Field(
        default=False, description="check the Kubernetes API and Knative Services"
    )
    kubernetes_url: PlainUrl = Field(
        default="https://kubernetes.default.svc",
        description="the API server (in-cluster default); its CA and token come from the pod",
    )
    kubernetes_token: SecretRef = SecretRef.model_construct(
        file=Path("/var/run/secrets/kubernetes.io/serviceaccount/token")
    )
    kubernetes_ca: Path | None = Field(
        default=Path("/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"),
        description="CA bundle for the API server; None to use the system's",
    )
    namespace: str = Field(default="backup2gitops", description="where the Knative Services run")
    knative_services: list[str] = Field(
        default_factory=lambda: [
            "backup-complete",
            "gitops-generator",
            "cluster-backup",
            "health-aggregator",
            "alert-router",
        ]
    )
    git_log_depth: int = Field(
        default=200, ge=1, le=5000, description="commits read to find each cluster's Backup-Id"
    )
    status_token: SecretRef | None = Field(
        default=None,
        description="bearer token the status page (GET / and /status) asks for; unset: open "
        "to anyone who reaches the service (it names clusters, backups, commits and alerts)",
    )
    drift_notes: int = Field(
        default=20, ge=0, le=200, description="recent drift findings kept per cluster for /status"
    )
    metrics_cache_s: float = Field(
        default=60,
        ge=0,
        description="GET /metrics measures and fetches (git history, bucket listings) at most "
        "once per this many seconds; scrapes in between get the same figures",
    )


class RouteConfig(BaseModel):
    """A node of the routing tree (Alertmanager's semantics, see ``core.routing``)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, defer_build=True)
    receivers: list[str] = Field(default_factory=empty_list)
    match: dict[str, str | list[str]] = Field(
        default_factory=dict,
        description="label -> value: exact, glob (* ? [..]), '=~regex', '!=value', '!~regex'",
    )
    matchers: list[str] = Field(
        default_factory=empty_list, description="Alertmanager style: 'severity=~critical|warning'"
    )
    continue_: bool = Field(default=False, alias="continue")
    routes: list["RouteConfig"] = Field(default_factory=empty_list)

    @model_validator(mode="after")
    def _valid_matchers(self) -> "RouteConfig":
        from backup2gitops.core import routing

        try:
            routing.parse_route(self.model_dump(by_alias=True, exclude={"routes"}))
        except routing.RoutingError as exc:
            raise ValueError(str(exc)) from exc
        return self


class IdempotencyConfig(Strict):
    """Where per-event, per-receiver delivery records live."""

    backend: Literal["store", "dynamodb"] = "store"
    prefix: str = Field(default="state/idempotency/", description="keys in the bucket (store)")
    table: str | None = Field(default=None, description="DynamoDB table (backend: dynamodb)")
    expires_after: Duration = timedelta(days=1)

    @model_validator(mode="after")
    def _table_for_dynamodb(self) -> "IdempotencyConfig":
        if self.backend == "dynamodb" and not self.table:
            raise FieldProblem("table", message="required when backend is dynamodb")
        return self


class AlertsConfig(Strict):
    receivers: list[ReceiverConfig] = Field(
        default_factory=lambda: list[ReceiverConfig](
            [ConsoleReceiverConfig.model_construct(name="console")]
        ),
        description="where alerts go; 'type' picks the receiver and its settings",
    )
    routes: list[RouteConfig] = Field(
        default_factory=lambda: [RouteConfig.model_construct(receivers=["console"])],
        description="the routing tree's top level; an alert no route matches is only logged",
    )
    types: list[str] = Field(default_factory=empty_list, description="extra event types to consume")
    open_prefix: str = Field(
        default="state/alerts/", description="firing alerts, so a recovery resolves exactly them"
    )
    idempotency: IdempotencyConfig = IdempotencyConfig.model_construct()
    deliveries_prefix: str = Field(
        default="state/deliveries/",
        description="one empty object per delivery (receiver, outcome, alert): what "
        "health-aggregator counts the deliveries and failures in /metrics from",
    )
    deliver_without_state: bool = Field(
        default=False,
        description="when the bucket is down, send firing alerts anyway without recording "
        "them (the 503 that follows may make a receiver hear twice: at-least-once)",
    )
    refusals_prefix: str = Field(
        default="state/refusals/",
        description="<cluster>/<backup id>: a backup refused (backup.failed, gitops.failed) "
        "whose alert a receiver took; the watchdog does not call it stuck",
    )
    redeliver_for: timedelta = Field(
        default=timedelta(days=1),
        description="a firing alert a receiver has not taken is sent again on each health "
        "tick for this long after it fired (then logged as expired)",
    )

    @model_validator(mode="after")
    def _routes_name_receivers(self) -> "AlertsConfig":
        known = {receiver.name for receiver in self.receivers}
        if len(known) != len(self.receivers):
            raise ValueError("receivers: names must be unique")

        def check(routes: list[RouteConfig], where: str) -> None:
            for index, route in enumerate(routes):
                unknown = sorted(set(route.receivers) - known)
                if unknown:
                    raise ValueError(f"{where}[{index}]: unknown receiver(s) {', '.join(unknown)}")
                check(route.routes, f"{where}[{index}].routes")

        check(self.routes, "routes")
        return self
