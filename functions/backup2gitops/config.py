"""Configuration: one YAML file, ``${VAR}`` expansion, environment overrides, defaults, validation.

The whole file is checked when it is loaded (``config validate``, and every function's cold
start): unknown keys anywhere are errors (a typo must not pass), enumerations are strict, the
cleaning policy is ``core.cleaning.CleaningSettings`` itself, transforms and receiver types must
be installed, cross-field rules (sops needs recipients and a digest key, review mode needs its project) hold, and
URLs carry no credentials. Every error names its field: ``generator.cleaning.secrets: must be one
of exclude, redact, sops, plaintext (got 'encrypt')``.

- ``${VAR}`` and ``${VAR:-default}`` are expanded from the environment *after* YAML parsing, in
  string values only: a ``${VAR}`` in a comment is just a comment, and a value holding `` #``
  is never cut. An unset variable without a default is an error naming the field that uses it.
  Inside a flow collection (``{...}``, ``[...]``) quote it: ``{url: "${REMOTE}"}``.
- ``BACKUP2GITOPS__SECTION__FIELD=value`` overrides any field (``__`` separates levels;
  the value is parsed as YAML, so ``true``, ``5`` and ``[a, b]`` work).
- Credentials never live in the file: a secret field holds a *reference*
  (``{env: NAME}`` or ``{file: /var/run/secrets/...}``), resolved when used and never printed.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterator, Mapping
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails

from backup2gitops import transforms as installed_transforms
from backup2gitops.config_receivers import (
    RECEIVER_TAGS,
    ConsoleReceiverConfig,
    ReceiverConfig,
)
from backup2gitops.config_types import Duration, FieldProblem, PlainUrl, SecretRef, Strict
from backup2gitops.core import units
from backup2gitops.core.archive import ArchiveLimits
from backup2gitops.core.cleaning.policy import Entries, SelectorText
from backup2gitops.core.cleaning.settings import CleaningSettings, as_settings
from backup2gitops.core.drift import DriftPolicy
from backup2gitops.core.errors import Backup2GitopsError
from backup2gitops.core.retention import KeepPolicy
from backup2gitops.core.yaml_errors import describe_parse_error

__all__ = [
    "CONFIG_ENV",
    "ENV_PREFIX",
    "PACKAGED_CONFIG",
    "AlertsConfig",
    "ArchiveLimitsConfig",
    "ArgoCdConfig",
    "BackupCompleteConfig",
    "BackupsConfig",
    "ClusterBackupConfig",
    "ClusterSource",
    "Config",
    "ConfigError",
    "FluxConfig",
    "GeneratorConfig",
    "GitConfig",
    "HealthConfig",
    "HttpConfig",
    "IdempotencyConfig",
    "ReceiverConfig",
    "ReviewConfig",
    "RouteConfig",
    "SecretRef",
    "StorageConfig",
    "UnitsConfig",
    "config_file",
    "describe_error",
    "expand_variables",
    "load_config",
    "parse_config",
]

ENV_PREFIX = "BACKUP2GITOPS__"
CONFIG_ENV = "BACKUP2GITOPS_CONFIG"
PACKAGED_CONFIG = Path(__file__).with_name("config.yaml")
"""The configuration template.yaml's functions start with (inside the package: the Lambda zip,
the wheel); the Lambda runtime falls back to it when ``$BACKUP2GITOPS_CONFIG`` is empty."""
_PACKAGE_ROOT = Path(__file__).resolve().parent.parent
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class ConfigError(Backup2GitopsError):
    """The configuration cannot be used; the message names the field or variable."""

    code = "invalid_configuration"


class StorageConfig(Strict):
    url: PlainUrl = Field(
        default="file://./bucket",
        description="s3://bucket[/prefix] (MinIO or AWS S3) or file:///path (a directory)",
    )
    endpoint_url: PlainUrl | None = Field(
        default=None, description="e.g. http://minio.minio.svc:9000"
    )
    region: str | None = None
    verify_tls: bool = True
    addressing_style: Literal["auto", "path", "virtual"] = "auto"
    access_key: SecretRef = SecretRef(env="AWS_ACCESS_KEY_ID")
    secret_key: SecretRef = SecretRef(env="AWS_SECRET_ACCESS_KEY")
    health_url: PlainUrl | None = Field(
        default=None, description="MinIO only: base URL whose /minio/health/cluster is checked"
    )
    velero_buckets: list[str] = Field(
        default_factory=list,
        description="other buckets (Velero's) whose backups are read, never written: same "
        "endpoint and credentials; clusters[].velero_prefix maps them to clusters",
    )

    @field_validator("velero_buckets")
    @classmethod
    def _named_buckets(cls, buckets: list[str]) -> list[str]:
        return [b for b in buckets if b]  # "${VAR}" left empty: none

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, url: str) -> str:
        if not url.startswith(("s3://", "file://")):
            raise ValueError("must start with s3:// or file://")
        return url


class ClusterSource(Strict):
    """Maps where backups land to the cluster they came from (Velero backups do not say)."""

    name: str = Field(pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
    velero_prefix: str | None = Field(
        default=None, description='Velero backups under this prefix ("" for the bucket root)'
    )
    max_backup_age: Duration | None = Field(
        default=None, description="override of health.max_backup_age for this cluster"
    )
    keep: KeepPolicy | None = Field(
        default=None, description="override of backups.keep for this cluster's native backups"
    )


class BackupsConfig(Strict):
    """What happens to native backups once written (``core.retention``)."""

    keep: KeepPolicy = Field(
        default_factory=KeepPolicy,
        description="retention per cluster, applied by cluster-backup after each successful "
        "backup: count (newest N) and/or max_age; the newest complete backup always stays, "
        "Velero's backups are never touched; unset: keep everything",
    )


class ReviewConfig(Strict):
    mode: Literal["none", "github", "gitlab"] = "none"
    api_url: PlainUrl | None = None
    project: str | None = Field(default=None, description="owner/repo (GitHub) or project id/path")
    token: SecretRef = SecretRef(env="BACKUP2GITOPS_REVIEW_TOKEN")

    @model_validator(mode="after")
    def _project_for_mode(self) -> ReviewConfig:
        if self.mode != "none" and not self.project:
            what = "owner/repo" if self.mode == "github" else "the project id or path"
            raise FieldProblem("project", message=f"required when mode is {self.mode} ({what})")
        return self


class GitConfig(Strict):
    url: PlainUrl = Field(
        default="./gitops.git",
        description="path, file://, https:// or ssh remote; the token goes in git.token",
    )
    branch: str = "main"
    author_name: str = "backup2gitops"
    author_email: str = "backup2gitops@localhost"
    token: SecretRef = SecretRef(env="BACKUP2GITOPS_GIT_TOKEN")
    token_user: str = Field(default="x-access-token", description="HTTPS user for the token")
    push_attempts: int = Field(default=5, ge=1, le=50)
    cache_dir: Path | None = Field(default=None, description="where working clones live")
    timeout_s: float = Field(
        default=120.0,
        gt=0,
        le=3600,
        description="deadline of each git command; past it git is killed: git_unavailable",
    )
    low_speed_time_s: int = Field(
        default=30, ge=1, le=3600, description="an HTTP transfer under 1 KB/s this long is ended"
    )
    race_window_s: float = Field(
        default=600.0,
        gt=0,
        le=3600,
        description="how long pushes that lost a race to another cluster's are retried",
    )
    review: ReviewConfig = ReviewConfig()


_DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
_DNS_LABEL = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"


class FluxConfig(Strict):
    """A Flux ``Kustomization`` per unit, in ``clusters/<cluster>/flux/`` (``core.units``)."""

    enabled: bool = Field(
        default=False,
        description="write clusters/<cluster>/flux/: a Kustomization per unit (+ GitRepository)",
    )
    namespace: str = Field(
        default="flux-system", pattern=_DNS_LABEL, description="where the Flux objects live"
    )
    interval: str = Field(
        default="10m",
        pattern=r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$",
        description="how often Flux reconciles (Go duration, as the Flux CRDs require)",
    )
    prune: bool = True
    source_name: str = Field(
        default="backup2gitops",
        max_length=253,
        pattern=_DNS_SUBDOMAIN,
        description="the GitRepository the Kustomizations read",
    )
    create_source: bool = Field(
        default=True,
        description="write that GitRepository (units.repo_url, units.branch); false: refer to "
        "an existing one (flux bootstrap's flux-system)",
    )
    source_secret: str | None = Field(
        default=None,
        pattern=_DNS_SUBDOMAIN,
        description="name of the Secret with Flux's git credentials (a name, not a credential)",
    )
    decryption_secret: str = Field(
        default="sops-age",
        pattern=_DNS_SUBDOMAIN,
        description="name of the Secret with the age private key (cleaning.secrets: sops)",
    )


class ArgoCdConfig(Strict):
    """An Argo CD ``ApplicationSet`` over the units, or an ``Application`` per unit."""

    mode: Literal["none", "applicationset", "applications"] = Field(
        default="none",
        description="applicationset: one, with git directory generators; applications: one per "
        "unit, the cluster-scoped one in sync wave -1 (for an app of apps)",
    )
    namespace: str = Field(
        default="argocd", pattern=_DNS_LABEL, description="where Argo CD's objects live"
    )
    project: str = "default"
    destination_server: PlainUrl = Field(
        default="https://kubernetes.default.svc", description="the cluster the units apply to"
    )
    prune: bool = True
    self_heal: bool = Field(
        default=False,
        description="revert changes made on the cluster at once; off: the repository is written "
        "from that cluster, and a hand change is what its next backup records (docs/"
        "architecture.md, Reconcilable units)",
    )


class UnitsConfig(Strict):
    """How each cluster's folder is cut into units that build on their own (``core.units``)."""

    by: Literal["namespace", "cluster"] = Field(
        default="namespace",
        description="namespace: one unit per namespace + one for cluster-scoped objects; "
        "cluster: the cluster's folder is the one unit",
    )
    split_over: int | None = Field(
        default=units.DEFAULT_SPLIT_OVER,
        ge=1,
        description="a unit (a namespace, the cluster-scoped objects) with more objects than this "
        "is cut into one unit per resource folder, paths unchanged; null: never",
    )
    repo_url: PlainUrl | None = Field(
        default=None,
        description="the URL Flux and Argo CD read the repository from (default: git.url); "
        "https:// or ssh, never with credentials",
    )
    branch: str | None = Field(default=None, description="their branch (default: git.branch)")
    flux: FluxConfig = FluxConfig()
    argocd: ArgoCdConfig = ArgoCdConfig()


_AGE_RECIPIENT = r"^age1[0-9a-z]{20,}$"
"""An age recipient: X25519 (``age1`` + 58 bech32 characters), post-quantum (``age1pq1...``) or
a plug-in's (``age1yubikey1...``); lower-case bech32, so never a comma (sops joins them with one)."""


class GeneratorConfig(Strict):
    cleaning: CleaningSettings = Field(
        default_factory=CleaningSettings,
        description="which objects go to git and how Secrets are treated (core.cleaning)",
    )
    transforms: list[str] = Field(
        default_factory=list, description="entry points of group backup2gitops.transforms to run"
    )
    sops_age_recipients: list[str] = Field(
        default_factory=list,
        description="age public keys (age1...) Secrets are encrypted for; cleaning.secrets: sops",
    )
    sops_digest_key: SecretRef | None = Field(
        default=None,
        description="HMAC-SHA256 key (32 bytes or more, {env: NAME} or {file: PATH}) of the "
        "digest kept beside each encrypted Secret: an unchanged Secret keeps its committed "
        "ciphertext; required when cleaning.secrets is sops",
    )
    record_unchanged: bool = Field(
        default=True,
        description="commit a backup that changes nothing as an empty commit with its trailers, "
        "so the branch says which backup it reflects (GitOps lag stays measurable)",
    )
    retry_window_s: float = Field(
        default=120,
        ge=0,
        description="a storage or git outage within this many seconds of the event's time is a "
        "503 (the Broker retries: 6 times over ~63 s); later it becomes gitops.failed "
        "(retryable: true), so the alert-router hears of it before the event is dead-lettered",
    )
    max_deletion_share: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="a commit removing more than this share of a cluster's objects fails "
        "(gitops.failed mass_deletion) unless the backup is confirmed complete by both counts",
    )
    units: UnitsConfig = Field(
        default_factory=UnitsConfig,
        description="reconcilable units of each cluster's folder and Flux / Argo CD entry points",
    )

    @field_validator("transforms")
    @classmethod
    def _installed(cls, names: list[str]) -> list[str]:
        installed = installed_transforms.installed()
        for index, name in enumerate(names):
            if name not in installed:
                raise FieldProblem(
                    index,
                    message=f"unknown transform {name!r} (entry points of "
                    f"{installed_transforms.GROUP}: {', '.join(sorted(installed)) or 'none'})",
                )
            try:
                installed_transforms.load_transforms([name])
            except Exception as exc:  # a broken plug-in fails here, not on every backup
                raise FieldProblem(
                    index, message=f"transform {name!r} does not load ({type(exc).__name__}: {exc})"
                ) from exc
        return names

    @field_validator("sops_age_recipients")
    @classmethod
    def _age_keys(cls, recipients: list[str]) -> list[str]:
        for index, recipient in enumerate(recipients):
            if not re.match(_AGE_RECIPIENT, recipient):
                raise FieldProblem(index, message="not an age public key (age1...)")
        return recipients

    @field_validator("cleaning", mode="before")
    @classmethod
    def _settings(cls, value: object) -> object:
        return as_settings(value)  # a plain CleaningPolicy gets the settings' defaults

    @model_validator(mode="after")
    def _sops_has_recipients(self) -> GeneratorConfig:
        if self.cleaning.secrets == "sops" and not self.sops_age_recipients:
            raise FieldProblem(
                "sops_age_recipients",
                message="required when cleaning.secrets is sops (age public keys, age1...)",
            )
        if self.cleaning.secrets == "sops" and self.sops_digest_key is None:
            # Refused rather than falling back to re-encrypting: without it every backup
            # rewrites every Secret's ciphertext, which buries real changes in review.
            raise FieldProblem(
                "sops_digest_key",
                message="required when cleaning.secrets is sops ({env: NAME} or {file: PATH} "
                "of a key of 32 bytes or more: unchanged Secrets keep their ciphertext)",
            )
        return self


class BackupCompleteConfig(Strict):
    webhook_token: SecretRef = SecretRef(env="BACKUP2GITOPS_WEBHOOK_TOKEN")
    allow_unauthenticated: bool = Field(
        default=False,
        description="accept webhooks without a token when none is configured (demo only); "
        "otherwise backup-complete refuses to start without one",
    )
    supported_format_versions: list[str] = Field(default_factory=lambda: ["1"])
    clock_skew_tolerance: timedelta = Field(
        default=timedelta(minutes=5),
        description="a created_at (finished_at, completionTimestamp) later than the completion "
        "marker's own last-modified time plus this is refused (backup.failed clock_skew); "
        "gitops-generator applies the same tolerance (gitops.failed clock_skew)",
    )


class ClusterBackupConfig(Strict):
    """What cluster-backup reads and how (see backup2gitops/cluster_snapshot.py)."""

    cluster: str | None = None
    kubeconfig: Path | None = None
    context: str | None = None
    include_namespaces: list[str] = Field(
        default_factory=lambda: ["*"], description="globs over namespaces (and Namespace names)"
    )
    exclude_namespaces: list[str] = Field(default_factory=list)
    include_resources: Entries = Field(
        default_factory=list,
        description="resource or resource.group (deployments, deployments.apps); empty: all",
    )
    exclude_resources: Entries = Field(default_factory=list)
    label_selector: SelectorText | None = Field(
        default=None, description="kubectl syntax, e.g. app=web,tier!=cache"
    )
    include_secrets: bool = False
    default_exclusions: bool = Field(
        default=True,
        description="leave out Events, Leases, controllers' Endpoints, controller-owned Pods, ... "
        "(the cleaning package's built-in exclusions)",
    )
    page_size: int = Field(default=500, ge=1, le=10_000)


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
    kubernetes_token: SecretRef = SecretRef(
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

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    receivers: list[str] = Field(default_factory=list)
    match: dict[str, str | list[str]] = Field(
        default_factory=dict,
        description="label -> value: exact, glob (* ? [..]), '=~regex', '!=value', '!~regex'",
    )
    matchers: list[str] = Field(
        default_factory=list, description="Alertmanager style: 'severity=~critical|warning'"
    )
    continue_: bool = Field(default=False, alias="continue")
    routes: list[RouteConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _valid_matchers(self) -> RouteConfig:
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
    def _table_for_dynamodb(self) -> IdempotencyConfig:
        if self.backend == "dynamodb" and not self.table:
            raise FieldProblem("table", message="required when backend is dynamodb")
        return self


class AlertsConfig(Strict):
    receivers: list[ReceiverConfig] = Field(
        default_factory=lambda: list[ReceiverConfig]([ConsoleReceiverConfig(name="console")]),
        description="where alerts go; 'type' picks the receiver and its settings",
    )
    routes: list[RouteConfig] = Field(
        default_factory=lambda: [RouteConfig(receivers=["console"])],
        description="the routing tree's top level; an alert no route matches is only logged",
    )
    types: list[str] = Field(default_factory=list, description="extra event types to consume")
    open_prefix: str = Field(
        default="state/alerts/", description="firing alerts, so a recovery resolves exactly them"
    )
    idempotency: IdempotencyConfig = IdempotencyConfig()
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
    def _routes_name_receivers(self) -> AlertsConfig:
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


class HttpConfig(Strict):
    max_body_bytes: int = Field(
        default=1024 * 1024, ge=1024, description="larger request bodies are answered 413 unread"
    )
    header_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        description="a request whose headers are not all in by then (from the connection, or "
        "the end of the previous request) is answered 408 and closed",
    )
    body_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        description="a body not all in this long after its headers is answered 408 and closed",
    )


class ArchiveLimitsConfig(Strict):
    """What reading one backup archive may cost (backup-complete and gitops-generator);
    enforced while streaming, a breach fails the backup (``archive_invalid``, not retried)."""

    max_entries: int = Field(default=500_000, ge=1, description="tar members (Velero: 2/object)")
    max_member_bytes: int = Field(default=8 * 1024 * 1024, ge=1, description="one member")
    max_total_bytes: int = Field(
        default=4 * 1024**3, ge=1, description="the whole tar stream, decompressed"
    )
    max_ratio: float = Field(
        default=200.0, gt=1, description="decompressed / compressed bytes (past 16 MiB out)"
    )

    def limits(self) -> ArchiveLimits:
        return ArchiveLimits(
            max_entries=self.max_entries,
            max_member_bytes=self.max_member_bytes,
            max_total_bytes=self.max_total_bytes,
            max_ratio=self.max_ratio,
        )


class Config(Strict):
    http: HttpConfig = HttpConfig()
    storage: StorageConfig = StorageConfig()
    archive_limits: ArchiveLimitsConfig = ArchiveLimitsConfig()
    clusters: list[ClusterSource] = Field(default_factory=list)
    backups: BackupsConfig = BackupsConfig()
    git: GitConfig = GitConfig()
    generator: GeneratorConfig = GeneratorConfig()
    backup_complete: BackupCompleteConfig = BackupCompleteConfig()
    cluster_backup: ClusterBackupConfig = ClusterBackupConfig()
    health: HealthConfig = HealthConfig()
    alerts: AlertsConfig = AlertsConfig()
    drift: DriftPolicy = Field(
        default_factory=DriftPolicy,
        description="sensitive changes between commits (gitops.drifted) and their alerts",
    )

    def keep_for(self, cluster: str) -> KeepPolicy:
        """``clusters[].keep`` of ``cluster`` when set, else ``backups.keep``."""
        source = next((c for c in self.clusters if c.name == cluster), None)
        return source.keep if source is not None and source.keep is not None else self.backups.keep

    def velero_prefixes(self) -> list[str]:
        """Every configured ``clusters[].velero_prefix`` (locations Velero owns)."""
        return [c.velero_prefix for c in self.clusters if c.velero_prefix is not None]

    @model_validator(mode="after")
    def _entry_points_have_a_source(self) -> Config:
        wanted = self.generator.units
        if not (wanted.flux.enabled and wanted.flux.create_source) and wanted.argocd.mode == "none":
            return self
        url = wanted.repo_url or self.git.url
        if not re.match(r"^(https?|ssh)://|^[A-Za-z0-9._-]+@[^/:]+:", url):
            where = "units.repo_url" if wanted.repo_url else "git.url"
            raise FieldProblem(
                "generator",
                "units",
                "repo_url",
                message=f"the Flux / Argo CD entry points need a URL they can clone ({where} "
                "is not http(s)://, ssh:// or user@host:path)",
            )
        return self

    def layout(self) -> units.Layout:
        """The units and entry points ``generator.units`` asks for (``core.units.Layout``)."""
        wanted = self.generator.units
        flux = argocd = source = None
        if wanted.flux.enabled or wanted.argocd.mode != "none":
            source = units.Source(
                url=wanted.repo_url or self.git.url, branch=wanted.branch or self.git.branch
            )
        if wanted.flux.enabled:
            flux = units.FluxSettings(
                namespace=wanted.flux.namespace,
                interval=wanted.flux.interval,
                prune=wanted.flux.prune,
                source_name=wanted.flux.source_name,
                create_source=wanted.flux.create_source,
                source_secret=wanted.flux.source_secret,
                decryption_secret=(
                    wanted.flux.decryption_secret
                    if self.generator.cleaning.secrets == "sops"
                    else None
                ),
            )
        if wanted.argocd.mode != "none":
            argocd = units.ArgoSettings(
                mode=wanted.argocd.mode,
                namespace=wanted.argocd.namespace,
                project=wanted.argocd.project,
                destination_server=wanted.argocd.destination_server,
                prune=wanted.argocd.prune,
                self_heal=wanted.argocd.self_heal,
            )
        return units.Layout(
            by=wanted.by, split_over=wanted.split_over, source=source, flux=flux, argocd=argocd
        )


def expand_variables(text: str, environ: Mapping[str, str], *, where: str = "") -> str:
    """``text`` with every ``${VAR}`` / ``${VAR:-default}`` replaced from ``environ``.

    Written here, measured against pydantic-settings 2.14 (docs/decisions.md, "Hand-written,
    and why"): it has no ``${VAR}`` expansion (its YAML source loads values as written), and
    its ``env_nested_delimiter="__"`` source, beside ``_apply_overrides``, takes a misspelt
    section (``BACKUP2GITOPS__GTI__BRANCH``) silently, refuses a YAML list (``[a, b]``) and
    names no variable in its errors; these name the field and the variable.
    """
    missing: list[str] = []

    def substitute(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in environ:
            return environ[name]
        if default is not None:
            return default
        missing.append(name)
        return ""

    prefix = f"{where}: " if where else ""
    if text.count("${") != len(_VAR.findall(text)):
        raise ConfigError(
            f"{prefix}a malformed ${{...}} reference (in a plain YAML value ' #' starts a "
            "comment and cuts it: quote the value)"
        )
    expanded = _VAR.sub(substitute, text)
    if missing:
        names = ", ".join(f"${{{name}}}" for name in missing)
        raise ConfigError(f"{prefix}{names} is not set and has no default (${{NAME:-default}})")
    return expanded


def _expand_tree(node: Any, environ: Mapping[str, str], path: tuple[str | int, ...]) -> Any:
    """Expand variables in the string values of a parsed document (never in keys)."""
    if isinstance(node, str):
        return expand_variables(node, environ, where=_where(path)) if "${" in node else node
    if isinstance(node, dict):
        return {key: _expand_tree(value, environ, (*path, key)) for key, value in node.items()}
    if isinstance(node, list):
        return [_expand_tree(value, environ, (*path, i)) for i, value in enumerate(node)]
    return node


def _overrides(environ: Mapping[str, str]) -> dict[tuple[str, ...], str]:
    """Field path -> the ``BACKUP2GITOPS__...`` variable that sets it."""
    found = {}
    for key in environ:
        if key.startswith(ENV_PREFIX):
            found[tuple(p.lower() for p in key[len(ENV_PREFIX) :].split("__") if p)] = key
    return found


def _apply_overrides(raw: dict[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    for key, value in sorted(environ.items()):
        if not key.startswith(ENV_PREFIX):
            continue
        path = [part.lower() for part in key[len(ENV_PREFIX) :].split("__") if part]
        node = raw
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"{key}: {'.'.join(path)} does not name a section")
            node = child
        node[path[-1]] = yaml.safe_load(value)
    return raw


def _where(loc: tuple[str | int, ...] | list[str | int]) -> str:
    """``("alerts", "receivers", 0, "slack", "url")`` -> ``alerts.receivers[0].url``."""
    text = ""
    after_index = False
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
            after_index = True
            continue
        if after_index and part in RECEIVER_TAGS:  # the receiver union's tag, not a field
            after_index = False
            continue
        after_index = False
        text += f".{part}" if text else str(part)
    return text or "(root)"


@cache
def _field_names() -> frozenset[str]:
    """Every field name of every section, for "did you mean" hints on unknown keys."""
    names: set[str] = set()

    def walk(schema: Any) -> Iterator[str]:
        if isinstance(schema, dict):
            yield from (schema.get("properties") or {}).keys()
            for value in schema.values():
                yield from walk(value)
        elif isinstance(schema, list):
            for value in schema:
                yield from walk(value)

    names.update(walk(Config.model_json_schema()))
    return frozenset(names)


def _message(err: ErrorDetails) -> tuple[tuple[str | int, ...], str]:
    """Where and what, in words; never the offending value, except for enumerations."""
    loc = tuple(err["loc"])
    kind = err["type"]
    ctx = err.get("ctx") or {}
    if kind == "literal_error":
        expected = str(ctx.get("expected", "")).replace("'", "").replace(" or ", ", ")
        return loc, f"must be one of {expected} (got {err['input']!r})"
    if kind == "extra_forbidden":
        close = difflib.get_close_matches(str(loc[-1]), sorted(_field_names()), n=1)
        return loc, "unknown field" + (f" (did you mean {close[0]}?)" if close else "")
    if kind == "missing":
        return loc, "required"
    if kind == "value_error":
        error = ctx.get("error")
        if isinstance(error, FieldProblem):
            return (*loc, *error.loc), error.message
        return loc, str(error) if error is not None else err["msg"]
    return loc, err["msg"]


def describe_error(
    exc: ValidationError, overrides: Mapping[tuple[str, ...], str] | None = None
) -> str:
    """One line: ``field: problem; field: problem`` (``(from $VAR)`` when an override set it)."""
    lines: list[str] = []
    for err in exc.errors():
        loc, text = _message(err)
        line = f"{_where(loc)}: {text}"
        fields = tuple(str(part) for part in loc)
        origin = next(
            (var for path, var in (overrides or {}).items() if fields[: len(path)] == path), None
        )
        if origin:
            line += f" (from ${origin})"
        if line not in lines:
            lines.append(line)
    return "; ".join(lines)


def parse_config(
    text: str, environ: Mapping[str, str] | None = None, *, source: str = "configuration"
) -> Config:
    env = environ if environ is not None else os.environ
    try:
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        hint = ""
        if "${" in text:
            hint = ' (a ${VAR} inside {...} or [...] must be quoted: "${VAR}")'
        raise ConfigError(describe_parse_error(exc, source=source) + hint) from exc
    if not isinstance(raw, dict):
        raise ConfigError("the configuration must be a YAML mapping")
    expanded = _expand_tree(raw, env, ())
    try:
        return Config.model_validate(_apply_overrides(expanded, env))
    except ValidationError as exc:
        raise ConfigError(describe_error(exc, _overrides(env))) from exc


def config_file(chosen: str | Path) -> Path:
    """``chosen``; a relative path that is not under the working directory is read from the
    package's root instead (``backup2gitops/config.yaml`` is found wherever the process starts,
    e.g. a Lambda function whatever its working directory)."""
    path = Path(chosen)
    if path.is_absolute() or path.exists():
        return path
    inside = _PACKAGE_ROOT / path
    return inside if inside.is_file() else path


def load_config(
    path: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    default: Path | None = None,
) -> Config:
    """Load from ``path``, else ``$BACKUP2GITOPS_CONFIG``, else ``default``, else the embedded
    defaults (+ overrides)."""
    env = environ if environ is not None else os.environ
    chosen = path or env.get(CONFIG_ENV) or default
    if not chosen:
        return parse_config("{}", env)
    try:
        text = config_file(chosen).read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read configuration {chosen}: {exc.strerror}") from exc
    return parse_config(text, env, source=str(chosen))
