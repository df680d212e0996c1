"""Configuration: one YAML file, ``${VAR}`` expansion, environment overrides, defaults, validation.

- ``${VAR}`` and ``${VAR:-default}`` are expanded from the environment before parsing; an unset
  variable without a default is an error that names it.
- ``BACKUP2GITOPS__SECTION__FIELD=value`` overrides any field (``__`` separates levels;
  the value is parsed as YAML, so ``true``, ``5`` and ``[a, b]`` work).
- Credentials never live in the file: a secret field holds a *reference*
  (``{env: NAME}`` or ``{file: /var/run/secrets/...}``), resolved when used and never printed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from backup2gitops.core.archive import ArchiveLimits
from backup2gitops.core.cleaning.policy import Entries, SelectorText

ENV_PREFIX = "BACKUP2GITOPS__"
CONFIG_ENV = "BACKUP2GITOPS_CONFIG"
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class ConfigError(Exception):
    """The configuration cannot be used; the message names the field or variable."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SecretRef(Strict):
    """Where a credential lives: an environment variable or a mounted file. Never the value."""

    env: str | None = None
    file: Path | None = None

    @model_validator(mode="after")
    def _one_source(self) -> SecretRef:
        if (self.env is None) == (self.file is None):
            raise ValueError("give exactly one of 'env' or 'file'")
        return self

    def reveal(self, environ: Mapping[str, str] | None = None) -> str | None:
        """The secret's value, or None when it is not set. Callers must never log it."""
        if self.env is not None:
            value = (environ if environ is not None else os.environ).get(self.env)
            return value or None
        assert self.file is not None
        try:
            return self.file.read_text().strip() or None
        except FileNotFoundError:
            return None

    def __repr__(self) -> str:
        return f"SecretRef(env={self.env!r})" if self.env else f"SecretRef(file={self.file!r})"


class StorageConfig(Strict):
    url: str = Field(
        default="file://./bucket",
        description="s3://bucket[/prefix] (MinIO or AWS S3) or file:///path (a directory)",
    )
    endpoint_url: str | None = Field(default=None, description="e.g. http://minio.minio.svc:9000")
    region: str | None = None
    verify_tls: bool = True
    addressing_style: Literal["auto", "path", "virtual"] = "auto"
    access_key: SecretRef = SecretRef(env="AWS_ACCESS_KEY_ID")
    secret_key: SecretRef = SecretRef(env="AWS_SECRET_ACCESS_KEY")
    health_url: str | None = Field(
        default=None, description="MinIO only: base URL whose /minio/health/cluster is checked"
    )

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
    max_backup_age: timedelta | None = Field(
        default=None, description="override of health.max_backup_age for this cluster"
    )


class ReviewConfig(Strict):
    mode: Literal["none", "github", "gitlab"] = "none"
    api_url: str | None = None
    project: str | None = Field(default=None, description="owner/repo (GitHub) or project id/path")
    token: SecretRef = SecretRef(env="BACKUP2GITOPS_REVIEW_TOKEN")


class GitConfig(Strict):
    url: str = Field(default="./gitops.git", description="path, file://, https:// or ssh remote")
    branch: str = "main"
    author_name: str = "backup2gitops"
    author_email: str = "backup2gitops@localhost"
    token: SecretRef = SecretRef(env="BACKUP2GITOPS_GIT_TOKEN")
    token_user: str = Field(default="x-access-token", description="HTTPS user for the token")
    push_attempts: int = Field(default=5, ge=1, le=50)
    cache_dir: Path | None = Field(default=None, description="where working clones live")
    review: ReviewConfig = ReviewConfig()


class GeneratorConfig(Strict):
    cleaning: dict[str, Any] = Field(
        default_factory=dict, description="CleaningPolicy: secrets, filters, keep_node_ports, ..."
    )
    transforms: list[str] = Field(
        default_factory=list, description="entry points of group backup2gitops.transforms to run"
    )
    sops_age_recipients: list[str] = Field(default_factory=list)
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


class BackupCompleteConfig(Strict):
    webhook_token: SecretRef = SecretRef(env="BACKUP2GITOPS_WEBHOOK_TOKEN")
    supported_format_versions: list[str] = Field(default_factory=lambda: ["1"])


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
        description="leave out Events, Leases, Endpoints, controller-owned Pods, ... "
        "(the cleaning package's built-in exclusions)",
    )
    page_size: int = Field(default=500, ge=1, le=10_000)


class HealthConfig(Strict):
    max_backup_age: timedelta = timedelta(hours=26)
    max_gitops_lag: timedelta = Field(
        default=timedelta(hours=1),
        description="how long the newest backup may wait for its commit before lag is degraded",
    )
    check_timeout_s: float = Field(default=5.0, gt=0)
    state_key: str = "state/health.json"
    kubernetes: bool = Field(
        default=False, description="check the Kubernetes API and Knative Services"
    )
    kubernetes_url: str = Field(
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


class ReceiverConfig(BaseModel):
    """One notification target; ``type`` selects the receiver class, the rest is its settings.

    Settings every receiver understands are fields here; anything else (``url``,
    ``routing_key``, ``secret``, ...) is validated by the receiver class itself.
    """

    model_config = ConfigDict(extra="allow")
    name: str = Field(pattern=r"^[A-Za-z0-9][-A-Za-z0-9_.]*$")
    type: str
    timeout_s: float = Field(default=10.0, gt=0)
    send_resolved: bool = True
    health_url: str | None = Field(
        default=None, description="checked by the health-aggregator (Alertmanager: .../-/ready)"
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
    expires_after: timedelta = timedelta(days=1)


class AlertsConfig(Strict):
    receivers: list[ReceiverConfig] = Field(
        default_factory=lambda: [ReceiverConfig(name="console", type="console")]
    )
    routes: list[RouteConfig] = Field(default_factory=lambda: [RouteConfig(receivers=["console"])])
    types: list[str] = Field(default_factory=list, description="extra event types to consume")
    open_prefix: str = Field(
        default="state/alerts/", description="firing alerts, so a recovery resolves exactly them"
    )
    idempotency: IdempotencyConfig = IdempotencyConfig()
    deliver_without_state: bool = Field(
        default=False,
        description="when the bucket is down, send firing alerts anyway without recording "
        "them (the 503 that follows may make a receiver hear twice: at-least-once)",
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
    storage: StorageConfig = StorageConfig()
    archive_limits: ArchiveLimitsConfig = ArchiveLimitsConfig()
    clusters: list[ClusterSource] = Field(default_factory=list)
    git: GitConfig = GitConfig()
    generator: GeneratorConfig = GeneratorConfig()
    backup_complete: BackupCompleteConfig = BackupCompleteConfig()
    cluster_backup: ClusterBackupConfig = ClusterBackupConfig()
    health: HealthConfig = HealthConfig()
    alerts: AlertsConfig = AlertsConfig()


def expand_variables(text: str, environ: Mapping[str, str]) -> str:
    missing: list[str] = []

    def substitute(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in environ:
            return environ[name]
        if default is not None:
            return default
        missing.append(name)
        return ""

    expanded = _VAR.sub(substitute, text)
    if missing:
        raise ConfigError(f"unset environment variable(s) with no default: {', '.join(missing)}")
    return expanded


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


def describe_error(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        where = ".".join(str(part) for part in err["loc"]) or "(root)"
        lines.append(f"{where}: {err['msg']}")
    return "; ".join(lines)


def parse_config(text: str, environ: Mapping[str, str] | None = None) -> Config:
    env = environ if environ is not None else os.environ
    try:
        raw = yaml.safe_load(expand_variables(text, env)) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError("the configuration must be a YAML mapping")
    try:
        return Config.model_validate(_apply_overrides(raw, env))
    except ValidationError as exc:
        raise ConfigError(describe_error(exc)) from exc


def load_config(path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Load from ``path``, else ``$BACKUP2GITOPS_CONFIG``, else embedded defaults (+ overrides)."""
    env = environ if environ is not None else os.environ
    chosen = path or env.get(CONFIG_ENV)
    if not chosen:
        return parse_config("{}", env)
    try:
        text = Path(chosen).read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read configuration {chosen}: {exc.strerror}") from exc
    return parse_config(text, env)
