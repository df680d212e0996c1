"""The event catalog: the CloudEvent envelope and the data model of every event type.

Pure: no I/O and no CloudEvents SDK (the runtime converts to and from the SDK's objects).
These models are the contract other systems rely on; their JSON Schemas are generated
by ``backup2gitops schemas`` into ``schemas/`` and a test fails when those files are stale.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from backup2gitops.core import bucket_layout, tracecontext
from backup2gitops.core.errors import InvalidInput

TYPE_PREFIX = "io.backup2gitops."
BACKUP_REQUESTED = "io.backup2gitops.backup.requested"
BACKUP_COMPLETED = "io.backup2gitops.backup.completed"
BACKUP_FAILED = "io.backup2gitops.backup.failed"
BACKUP_STALE = "io.backup2gitops.backup.stale"
GITOPS_GENERATED = "io.backup2gitops.gitops.generated"
GITOPS_FAILED = "io.backup2gitops.gitops.failed"
GITOPS_DRIFTED = "io.backup2gitops.gitops.drifted"
HEALTH_REPORTED = "io.backup2gitops.health.reported"
HEALTH_CHANGED = "io.backup2gitops.health.changed"
PING = "dev.knative.sources.ping"

_STRING_ATTRIBUTES = (
    "subject",
    "datacontenttype",
    "dataschema",
    "cluster",
    "traceparent",
    "tracestate",
)
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")


ExtensionValue = str | bool | int
"""An extension attribute's value: CloudEvents' String, Boolean or Integer (spec.md, Type System);
a binary-mode HTTP header always carries the String form, a structured-mode JSON body the typed one."""


def now() -> datetime:
    return datetime.now(UTC)


def canonical_string(value: ExtensionValue) -> str:
    """An attribute value's canonical string (spec.md, Type System): ``true``/``false``, decimal."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class Event(BaseModel):
    """A CloudEvent 1.0 with the extensions this project uses (``cluster``, and ``traceparent``
    / ``tracestate`` of the distributed-tracing extension)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    specversion: Literal["1.0"] = "1.0"
    id: str = Field(min_length=1)
    source: str = Field(min_length=1)
    type: str = Field(min_length=1)
    subject: str | None = None
    time: datetime | None = None
    datacontenttype: str | None = "application/json"
    dataschema: str | None = None
    data: Any = None
    cluster: str | None = None
    traceparent: str | None = None
    tracestate: str | None = None
    extensions: dict[str, ExtensionValue] = Field(default_factory=dict)

    @field_validator("traceparent")
    @classmethod
    def _valid_traceparent(cls, value: str | None) -> str | None:
        # An invalid traceparent is dropped rather than failing the event: tracing is best effort.
        return value if tracecontext.parse_traceparent(value) is not None else None

    @field_validator("tracestate")
    @classmethod
    def _valid_tracestate(cls, value: str | None) -> str | None:
        return tracecontext.parse_tracestate(value)

    @field_validator("cluster")
    @classmethod
    def _valid_cluster(cls, value: str | None) -> str | None:
        # It is copied into replies (a header in binary mode) and read as a cluster name.
        return value if value is None else bucket_layout.validate_cluster(value)

    def string_attributes(self) -> dict[str, str]:
        """Every context attribute in its canonical string form (what Trigger filters compare)."""
        attributes = {
            "specversion": self.specversion,
            "id": self.id,
            "source": self.source,
            "type": self.type,
        }
        if self.time is not None:
            attributes["time"] = self.time.isoformat().replace("+00:00", "Z")
        for name in _STRING_ATTRIBUTES:
            value = getattr(self, name)
            if value:
                attributes[name] = str(value)
        attributes.update({k: canonical_string(v) for k, v in self.extensions.items()})
        return attributes

    @property
    def trace_id(self) -> str | None:
        return self.traceparent.split("-")[1] if self.traceparent else None

    @property
    def trace_context(self) -> tracecontext.SpanContext | None:
        """The distributed-tracing extension, parsed (None when absent)."""
        return tracecontext.parse_traceparent(self.traceparent, self.tracestate)

    def traced(self, context: tracecontext.SpanContext | None) -> Event:
        """This event as seen inside a function's span: its trace context is the span's, so
        every event built from it with ``reply`` names that span as its parent."""
        if context is None:
            return self
        return self.model_copy(
            update={"traceparent": context.traceparent, "tracestate": context.tracestate}
        )

    def reply(
        self,
        *,
        type: str,
        source: str,
        data: BaseModel,
        subject: str | None = None,
        cluster: str | None = None,
        id: str | None = None,
    ) -> Event:
        """A follow-up event that carries this one's trace context (and cluster, unless given).

        Handlers are given the event ``traced`` by the runtime, so that context is the handling
        function's own span, not the producer's."""
        return Event(
            id=id or str(uuid.uuid4()),
            source=source,
            type=type,
            subject=subject,
            time=now(),
            data=data.model_dump(mode="json"),
            cluster=cluster if cluster is not None else self.cluster,
            traceparent=self.traceparent,
            tracestate=self.tracestate,
        )


def stable_event_id(*parts: str) -> str:
    """An event id derived from what the event is about, so a redelivery yields the same id."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
    return str(uuid.UUID(digest[:32]))


def function_source(function: str) -> str:
    return f"/backup2gitops/{function}"


class EventData(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Tick(BaseModel):
    """A PingSource tick's data (or an EventBridge schedule's input): whatever its spec says;
    only a ``cluster`` string is read (cluster-backup), the rest is kept as it came."""

    model_config = ConfigDict(extra="allow", frozen=True)

    cluster: str | None = None


class BackupRequested(EventData):
    cluster: str | None = None
    reason: str = "requested"


class BackupCompleted(EventData):
    backup_id: str = Field(
        pattern=bucket_layout.NAME_PATTERN,
        max_length=253,
        description="a DNS-1123 subdomain, no '..'",
    )
    cluster: str = Field(pattern=bucket_layout.CLUSTER_PATTERN, description="a DNS-1123 label")
    format: Literal["native", "velero"]
    bucket: str
    keys: list[str] = Field(
        description="object keys of the backup: the marker first, then the archive"
    )
    size: int = Field(ge=0, description="archive size in bytes")
    sha256: str | None = Field(
        default=None, description="archive checksum; Velero backups have none"
    )
    resource_count: int = Field(ge=0, description="objects the producer says it wrote")
    created_at: datetime = Field(
        description="completion time; orders backups (with backup_id as tie-break) on the branch"
    )
    kubernetes_version: str | None = None
    complete: bool = Field(
        default=False,
        description="the producer vouches nothing is missing and the archive holds at least "
        "resource_count items (native: always; Velero: phase Completed and itemsBackedUp == "
        "totalItems). Only then may a commit remove most of a cluster's objects",
    )

    @field_validator("backup_id")
    @classmethod
    def _no_double_dot(cls, value: str) -> str:
        return bucket_layout.validate_name(value, what="backup id")


class BackupFailed(EventData):
    cluster: str | None = None
    backup_id: str | None = None
    key: str | None = None
    code: str
    message: str


MAX_EXCLUSION_REASONS = 50
MAX_REASON_CHARS = 200
OTHER_REASONS = "(other reasons)"


def capped_reasons(counts: dict[str, int]) -> dict[str, int]:
    """``counts`` as an event carries it: each reason cut to ``MAX_REASON_CHARS``, the
    ``MAX_EXCLUSION_REASONS - 1`` largest kept and the rest summed under ``OTHER_REASONS``.

    Cleaning names one reason per rule, but a few rules name what they match (a namespace not
    included, the GitOps tool object that owns what is excluded): bounded by the cluster's
    shape, not by this event. EventBridge refuses an entry over 256 KiB; this keeps the map
    under ~12 KiB whatever the backup (issue 23 item 5)."""
    merged: dict[str, int] = {}
    for reason, count in counts.items():
        key = reason if len(reason) <= MAX_REASON_CHARS else reason[: MAX_REASON_CHARS - 3] + "..."
        merged[key] = merged.get(key, 0) + count
    if len(merged) <= MAX_EXCLUSION_REASONS:
        return merged
    ranked = sorted(merged.items(), key=lambda item: (-item[1], item[0]))
    kept = dict(ranked[: MAX_EXCLUSION_REASONS - 1])
    kept[OTHER_REASONS] = kept.get(OTHER_REASONS, 0) + sum(
        n for _, n in ranked[MAX_EXCLUSION_REASONS - 1 :]
    )
    return kept


class GitopsGenerated(EventData):
    backup_id: str
    cluster: str
    repository: str = Field(description="the remote, with any credentials removed")
    branch: str
    commit: str
    added: int = 0
    changed: int = 0
    removed: int = 0
    excluded: int = 0
    excluded_by_reason: dict[str, int] = Field(
        default_factory=dict,
        description="why objects were left out: reason (one per rule) -> count; at most "
        f"{MAX_EXCLUSION_REASONS} reasons of at most {MAX_REASON_CHARS} characters, the rest "
        f"summed under {OTHER_REASONS!r}",
    )
    objects: int = 0
    duration_s: float = 0.0
    noop: bool = False
    reason: str | None = Field(
        default=None,
        description="why a no-op made no commit when it is not a redelivery: e.g. the backup is "
        "older than the one the branch reflects (skipped, the folder is left as it is)",
    )
    review_url: str | None = Field(
        default=None, description="review mode: the pull/merge request for this backup's branch"
    )
    unmanaged: int | None = Field(
        default=None,
        description="objects in the backup's commit that no GitOps tool manages (no Flux, Argo "
        "CD or Helm ownership mark, no GitOps manager in managedFields): the things people "
        "changed by hand; null when not counted (a redelivered no-op)",
    )

    @field_validator("excluded_by_reason")
    @classmethod
    def _capped(cls, value: dict[str, int]) -> dict[str, int]:
        return capped_reasons(value)


class GitopsFailed(EventData):
    backup_id: str | None = None
    cluster: str | None = None
    code: str
    message: str
    retryable: bool


DriftSeverity = Literal["critical", "warning", "info"]


class DriftFinding(EventData):
    """One sensitive change between two commits of a cluster's folder (``core.drift``)."""

    kind: str
    namespace: str | None = Field(default=None, description="none for cluster-scoped objects")
    name: str
    rule: str = Field(
        description="the rule id in core.drift.RULES, e.g. rbac-cluster-admin-binding"
    )
    severity: DriftSeverity
    summary: str

    @property
    def object(self) -> str:
        """``Kind/namespace/name`` (``Kind/name`` when cluster-scoped): the alert's ``object``."""
        parts = [self.kind, self.namespace, self.name] if self.namespace else [self.kind, self.name]
        return "/".join(parts)


class GitopsDrifted(EventData):
    cluster: str
    backup_id: str
    commit: str = Field(description="the commit that made the changes")
    previous_commit: str = Field(description="its parent, the tree it is compared with")
    findings: list[DriftFinding] = Field(min_length=1)


HealthStatus = Literal["healthy", "degraded", "unhealthy"]


class ComponentHealth(EventData):
    status: HealthStatus
    latency_ms: float = 0.0
    message: str = ""


class HealthReported(EventData):
    status: HealthStatus
    checked_at: datetime
    components: dict[str, ComponentHealth]


class HealthChanged(EventData):
    previous: HealthStatus | Literal["unknown"]
    current: HealthStatus
    report: HealthReported
    changed_components: list[str] = Field(default_factory=list)


StuckCause = Literal["skipped", "not_generated", "not_on_branch"]
"""Why a landed backup is not on the branch (``backup.stale`` with ``cause``): ``skipped``: the
generator reported it as a no-op without a commit (e.g. "older than the backup the branch
reflects" after a future ``created_at``); ``not_generated``: no generation of it was heard of (the
event was lost, or the generator is still held, e.g. by a git remote that never answers);
``not_on_branch``: reported generated, yet no commit on the branch names it."""


class BackupStale(EventData):
    cluster: str
    last_backup_at: datetime | None
    max_age: str = Field(description="ISO-8601 duration, e.g. PT26H")
    age_s: float | None = None
    cause: StuckCause | None = Field(
        default=None,
        description="absent: no backup newer than max_age landed. Set: the watchdog -- a backup "
        "landed (completion marker in the bucket) and for longer than health.max_gitops_lag is "
        "neither named by a commit's Backup-Id trailer nor refused with a delivered alert; "
        "max_age is then that lag, age_s how long it waited",
    )
    backup_id: str | None = Field(
        default=None, description="watchdog: the landed backup that is not committed"
    )
    landed_at: datetime | None = Field(
        default=None, description="watchdog: its completion marker's last-modified time"
    )
    last_committed_backup_id: str | None = Field(
        default=None, description="watchdog: the backup the branch's newest trailer names"
    )


def envelope_schema() -> dict[str, Any]:
    """The JSON Schema of an event on the wire, in the CloudEvents JSON format (structured mode;
    a binary-mode event maps to the same attributes): the spec's context attributes, extension
    attributes of any conforming name (``knativearrivaltime``, ``knativeerror*``, a sender's own),
    ``data`` or ``data_base64``. Each type's ``data`` has its own schema, ``<type>.json``.

    Sources: cloudevents spec.md (Context Attributes, Type System, Attribute Naming Convention),
    formats/json-format.md (2.2 type mapping, 3.1 data and data_base64)."""
    string = {"type": "string", "minLength": 1}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://backup2gitops.io/schemas/cloudevent.json",
        "title": "CloudEvent (JSON format) as backup2gitops sends and receives it",
        "type": "object",
        "required": ["specversion", "id", "source", "type"],
        "properties": {
            "specversion": {"const": "1.0"},
            "id": string,
            "source": {**string, "format": "uri-reference"},
            "type": string,
            "subject": string,
            "time": {"type": "string", "format": "date-time"},
            "datacontenttype": string,
            "dataschema": {"type": "string", "format": "uri"},
            "data": {},
            "data_base64": {"type": "string", "contentEncoding": "base64"},
            "cluster": {
                **string,
                "description": "extension: the cluster an event is about (Triggers filter on it)",
            },
            "traceparent": {
                "type": "string",
                "pattern": _TRACEPARENT.pattern,
                "description": "extension: W3C trace context (distributed-tracing extension)",
            },
            "tracestate": {
                **string,
                "description": "extension: W3C tracestate (distributed-tracing extension)",
            },
        },
        "propertyNames": {"pattern": "^([a-z0-9]+|data_base64)$"},
        "additionalProperties": {
            "type": ["string", "boolean", "integer"],
            "description": "an extension attribute (spec.md, Type System: String, Boolean, Integer)",
        },
        "not": {"required": ["data", "data_base64"]},
    }


DataT = TypeVar("DataT", bound=EventData)

CATALOG: dict[str, type[EventData]] = {
    BACKUP_REQUESTED: BackupRequested,
    BACKUP_COMPLETED: BackupCompleted,
    BACKUP_FAILED: BackupFailed,
    GITOPS_GENERATED: GitopsGenerated,
    GITOPS_FAILED: GitopsFailed,
    GITOPS_DRIFTED: GitopsDrifted,
    HEALTH_REPORTED: HealthReported,
    HEALTH_CHANGED: HealthChanged,
    BACKUP_STALE: BackupStale,
}


InputT = TypeVar("InputT")


@dataclass(frozen=True)
class Received(Generic[InputT]):
    """An event as a handler receives it: the envelope's attributes (id, type, time, trace
    context, cluster: what a reply is built from) and its data decoded ONCE, by the runtime,
    into the model the function declares (``runtime.envelopes``). ``event.data`` is the payload
    as it came, kept for the failure report; no handler reads it."""

    event: Event
    data: InputT

    def traced(self, context: tracecontext.SpanContext | None) -> Received[InputT]:
        """The same, the event seen inside the function's span (``Event.traced``)."""
        return replace(self, event=self.event.traced(context))


def parse_data(event: Event, model: type[DataT]) -> DataT:
    """Validate an event's data against its catalog model; InvalidInput names the bad field."""
    try:
        return model.model_validate(event.data if event.data is not None else {})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "data"
        raise InvalidInput("invalid_data", f"{event.type}: data.{where}: {first['msg']}") from exc
