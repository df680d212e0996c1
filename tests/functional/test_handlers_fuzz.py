"""Every handler, served as functions-framework serves it, answers generated events with a
documented status: never a 500 from an error nobody mapped.

The app is functions-framework's own (``create_app`` with ``functions/main.py``, the image's
source, and the ``http`` signature); requests go through Flask's test client. The process-wide
``FunctionContext`` the targets use is set to one built here (a directory bucket, a local bare
git remote, a kubeconfig that does not exist, the console receiver).

Hypothesis runs derandomized with a fixed number of examples and no deadline: the same
examples on every machine, however busy.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import flask
import functions_framework
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backup2gitops.adapters.storage import FileStore
from backup2gitops.config import parse_config
from backup2gitops.core import events
from backup2gitops.core.notifications import STORAGE_OBJECT
from backup2gitops.runtime import context as context_module
from backup2gitops.runtime.context import FunctionContext
from tests.fixtures.tarballs import backup_tarball, object_item
from tests.functional.test_gitops_generator import ARCHIVE
from tests.git_repos import bare_repository

MAIN = Path(__file__).resolve().parents[2] / "functions" / "main.py"
TOKEN = "fuzz-token"
TARGETS = [
    "backup_complete",
    "gitops_generator",
    "cluster_backup",
    "health_aggregator",
    "alert_router",
]

DOCUMENTED = {
    "backup_complete": {200, 202, 400, 401, 413, 503},
    "gitops_generator": {200, 400, 413, 503},
    "cluster_backup": {200, 202, 400, 409, 413, 503},
    "health_aggregator": {200, 202, 400, 413, 503},
    "alert_router": {202, 400, 409, 413, 503},
}
"""docs/decisions.md "Handler contract": no 500, and no 422 from the functions whose
permanent failures are events (gitops.failed, backup.failed)."""

FUZZ = settings(
    derandomize=True,
    max_examples=80,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

NAMES = st.sampled_from(["prod", "demo", "other", "", "Prod", "a.b", "x" * 70, "b1\nCluster: x"])
KEYS = st.one_of(
    st.sampled_from(
        [
            "backups/prod/b1/manifest.json",
            "backups/prod/b1/resources.tar.gz",
            "velero/backups/d1/velero-backup.json",
            "velero//backups/prod/velero-backup.json",
            "../etc/passwd",
            "",
        ]
    ),
    st.text(max_size=40),
)
JSON_SCALAR = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20)
)
JSON = st.recursive(
    JSON_SCALAR,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
FIELDS = {
    "backup_id": st.one_of(NAMES, JSON_SCALAR),
    "cluster": st.one_of(NAMES, JSON_SCALAR),
    "format": st.sampled_from(["native", "velero", "other"]),
    "bucket": st.sampled_from(["bucket", "elsewhere"]),
    "keys": st.one_of(st.lists(KEYS, max_size=3), JSON_SCALAR),
    "size": st.one_of(st.integers(min_value=-1, max_value=10**6), JSON_SCALAR),
    "sha256": st.one_of(st.none(), st.text(alphabet="0123456789abcdef", min_size=64, max_size=64)),
    "resource_count": st.integers(min_value=-1, max_value=10),
    "created_at": st.sampled_from(["2026-11-01T00:00:00Z", "yesterday", 5]),
    "code": st.text(max_size=10),
    "message": st.text(max_size=20),
    "retryable": st.one_of(st.booleans(), JSON_SCALAR),
    "reason": st.text(max_size=10),
    "status": st.sampled_from(["healthy", "degraded", "unhealthy", "bad"]),
    "Records": st.one_of(st.lists(JSON, max_size=2), JSON_SCALAR),
    "EventName": st.sampled_from(["s3:ObjectCreated:Put", "s3:ObjectRemoved:Delete", ""]),
    "Key": st.one_of(KEYS, JSON_SCALAR),
}
DATA = st.one_of(
    JSON,
    st.fixed_dictionaries({}, optional=FIELDS),
    st.fixed_dictionaries({}, optional=FIELDS).map(lambda d: {**d, "extra": 1}),
)
TYPES = st.one_of(
    st.sampled_from(
        [*events.CATALOG, events.PING, STORAGE_OBJECT, "dev.knative.kafka.event", "x.unknown"]
    ),
    st.text(min_size=1, max_size=30),
)


def mutated(base: dict[str, Any]) -> st.SearchStrategy[Any]:
    """``base`` (a valid payload) with some fields replaced, dropped or added; now and then
    something else entirely."""

    @st.composite
    def build(draw: st.DrawFn) -> Any:
        data = dict(base)
        for name in draw(st.lists(st.sampled_from(sorted(FIELDS)), max_size=2, unique=True)):
            if name in data and draw(st.booleans()):
                del data[name]
            else:
                data[name] = draw(FIELDS[name])
        return data

    return st.sampled_from(["base", "mutated", "mutated", "any"]).flatmap(
        lambda kind: st.just(base) if kind == "base" else build() if kind == "mutated" else DATA
    )


def hidden_clusterrole_archive() -> bytes:
    obj = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole"}
    role = {**obj, "metadata": {"name": ".hidden"}}
    return backup_tarball([object_item("clusterroles.rbac.authorization.k8s.io", role)])


ARCHIVES = {
    "b1": ARCHIVE,  # committed once, then a no-op
    "b2": hidden_clusterrole_archive(),  # an object name that cannot be a path
    "b3": b"\x1f\x8b\x08\x00 not a tarball",
}
"""In the bucket under backups/prod/<id>/resources.tar.gz; b4 is announced but absent."""


def completed_data(backup_id: str) -> dict[str, Any]:
    archive = ARCHIVES.get(backup_id, b"")
    return {
        "backup_id": backup_id,
        "cluster": "prod",
        "format": "native",
        "bucket": "bucket",
        "keys": [
            f"backups/prod/{backup_id}/manifest.json",
            f"backups/prod/{backup_id}/resources.tar.gz",
        ],
        "size": len(archive),
        "sha256": hashlib.sha256(archive).hexdigest(),
        "resource_count": 1,
        "created_at": "2026-11-01T00:00:00Z",
    }


def minio_body(key: str) -> dict[str, Any]:
    record = {
        "eventVersion": "2.0",
        "eventSource": "minio:s3",
        "eventName": "s3:ObjectCreated:Put",
        "s3": {
            "bucket": {"name": "bucket"},
            "object": {"key": key, "size": 10, "eTag": "e"},
        },
    }
    return {"EventName": "s3:ObjectCreated:Put", "Key": f"bucket/{key}", "Records": [record]}


FAILED = {"cluster": "prod", "backup_id": "b1", "code": "x", "message": "m", "retryable": False}
INPUTS: dict[str, list[tuple[str, dict[str, Any]]]] = {
    "backup_complete": [(STORAGE_OBJECT, minio_body("backups/prod/b1/manifest.json"))],
    "gitops_generator": [
        (events.BACKUP_COMPLETED, completed_data(b)) for b in ["b1", "b2", "b3", "b4"]
    ],
    "cluster_backup": [(events.PING, {}), (events.BACKUP_REQUESTED, {"cluster": "prod"})],
    "health_aggregator": [(events.PING, {}), (events.GITOPS_GENERATED, {"cluster": "prod"})],
    "alert_router": [
        (events.GITOPS_FAILED, FAILED),
        (events.BACKUP_FAILED, FAILED),
        (events.BACKUP_STALE, {"cluster": "prod", "last_backup_at": None, "max_age": "PT1H"}),
    ],
}


@st.composite
def requests(draw: st.DrawFn, target: str) -> tuple[dict[str, str], bytes]:
    """Mostly the target's own input, mutated: as a binary-mode CloudEvent, a structured one,
    a plain JSON body (MinIO's webhook), or bytes."""
    event_type, base = draw(st.sampled_from(INPUTS[target]))
    data = draw(mutated(base))
    mode = draw(st.sampled_from(["binary"] * 4 + ["structured"] * 2 + ["plain", "raw"]))
    if target == "backup_complete" and draw(st.booleans()):
        mode = "plain"
        data = minio_body(draw(KEYS)) if draw(st.booleans()) else data
    token = f"Bearer {TOKEN}"
    auth = draw(st.sampled_from([{"Authorization": token}] * 3 + [{}, {"Authorization": "x"}]))
    attributes = {
        "id": draw(st.sampled_from(["e1", "e2", "e3"]) | st.text(min_size=1, max_size=8)),
        "source": draw(
            st.sampled_from(["/src", "/src", "/apis/v1/namespaces/n/pingsources/p", ""])
        ),
        "type": draw(st.sampled_from([event_type] * 6) | TYPES),
    }
    extensions = draw(st.dictionaries(st.sampled_from(["cluster", "traceparent", "x"]), NAMES))
    if mode == "binary":
        fields = {**attributes, **extensions}  # HTTP header values cannot hold a newline
        headers = {f"ce-{k}": v for k, v in fields.items() if "\n" not in v and "\r" not in v}
        headers |= {"ce-specversion": draw(st.sampled_from(["1.0"] * 5 + ["0.3", "2"]))}
        headers |= {"Content-Type": "application/json"}
        return {**headers, **auth}, json.dumps(data).encode()
    if mode == "structured":
        body = {"specversion": "1.0", **attributes, **extensions, "data": data}
        return {"Content-Type": "application/cloudevents+json", **auth}, json.dumps(body).encode()
    if mode == "plain":
        return {"Content-Type": "application/json", **auth}, json.dumps(data).encode()
    return {"Content-Type": "application/json", **auth}, draw(st.binary(max_size=64))


@pytest.fixture(scope="module")
def apps(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, flask.Flask]]:
    tmp = tmp_path_factory.mktemp("fuzz")
    remote = tmp / "remote.git"
    bare_repository(remote)
    config = parse_config(
        f"""
storage: {{url: "{(tmp / "bucket").as_uri()}"}}
git: {{url: "{remote}", cache_dir: "{tmp / "cache"}"}}
clusters: [{{name: prod, velero_prefix: velero}}]
cluster_backup: {{cluster: prod, kubeconfig: "{tmp / "no-kubeconfig"}"}}
health: {{check_timeout_s: 5}}
"""
    )
    environ = {"BACKUP2GITOPS_WEBHOOK_TOKEN": TOKEN, "BACKUP2GITOPS_CACHE_DIR": str(tmp / "c")}
    store = FileStore(tmp / "bucket")
    for backup_id, archive in ARCHIVES.items():
        store.put_bytes(f"backups/prod/{backup_id}/resources.tar.gz", archive)
    ctx = FunctionContext(config, store=store, environ=environ)
    saved = context_module._default
    context_module._default = ctx
    try:
        yield {
            target: functions_framework.create_app(target, str(MAIN), "http") for target in TARGETS
        }
    finally:
        context_module._default = saved


def check(app: flask.Flask, request: tuple[dict[str, str], bytes]) -> None:
    headers, body = request
    response = app.test_client().post("/", headers=headers, data=body)
    assert response.status_code in DOCUMENTED[app.name], (response.status_code, response.data)
    if response.status_code >= 400:
        error: Any = response.get_json()["error"]
        assert set(error) == {"code", "message", "function", "trace_id", "timestamp"}


@pytest.mark.parametrize("target", TARGETS)
def test_generated_events_get_documented_statuses(
    apps: dict[str, flask.Flask], target: str
) -> None:
    @FUZZ
    @given(request=requests(target))
    def run(request: tuple[dict[str, str], bytes]) -> None:
        check(apps[target], request)

    run()
