"""The whole flow on one machine: the five functions, their Triggers, and a local broker.

The composition root for ``demo`` and ``serve``: it is the one module that imports every function
package. Events travel through each function's real HTTP wrapper (in-process with Flask's test
client, or over HTTP to functions-framework servers), so what runs here is what Knative runs.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

import flask
import requests

from backup2gitops.core.events import Event
from backup2gitops.runtime import codec
from backup2gitops.runtime.broker import DeliveryResult
from backup2gitops.runtime.context import FunctionContext
from backup2gitops.runtime.http import FunctionSpec, handle_request

SERVICES = (
    "backup-complete",
    "gitops-generator",
    "health-aggregator",
    "alert-router",
    "cluster-backup",
)
SINK_BOUND = ("backup-complete", "gitops-generator", "health-aggregator")
"""The functions knative/base/sinkbinding.yaml binds to the Broker: they publish more than a reply."""


def function_specs() -> dict[str, FunctionSpec]:
    """Knative Service name -> the function it runs."""
    import importlib

    modules = [importlib.import_module(f"{name.replace('-', '_')}.handler") for name in SERVICES]
    specs: list[FunctionSpec] = [module.SPEC for module in modules]
    return {spec.name: spec for spec in specs}


def handler_module_file(service: str) -> Path:
    """The source file functions-framework loads for a service (``--source``)."""
    module = __import__(f"{service.replace('-', '_')}.handler", fromlist=["handler"])
    return Path(module.__file__ or "")


def triggers_dir(explicit: str | None = None) -> Path:
    """``triggers/`` of this checkout (or ``$BACKUP2GITOPS_TRIGGERS``, or an explicit path)."""
    candidates = [explicit, os.environ.get("BACKUP2GITOPS_TRIGGERS")]
    candidates.append(str(Path(__file__).resolve().parents[3] / "triggers"))
    for candidate in candidates:
        if candidate and Path(candidate, "kustomization.yaml").is_file():
            return Path(candidate)
    raise FileNotFoundError(
        "cannot find the triggers/ directory; pass --triggers DIR or set BACKUP2GITOPS_TRIGGERS"
    )


def _reply_of(status: int, headers: Mapping[str, str], body: bytes) -> Event | None:
    if status == 200 and codec.is_cloudevent(headers):
        return codec.parse_http(headers, body)
    return None


class InProcessTransport:
    """Delivers through each function's HTTP wrapper without sockets (Flask's test client)."""

    def __init__(
        self, specs: Mapping[str, FunctionSpec], contexts: Mapping[str, FunctionContext]
    ) -> None:
        self.apps: dict[str, flask.Flask] = {}
        for name, spec in specs.items():
            app = flask.Flask(name)

            def view(spec: FunctionSpec = spec, name: str = name) -> flask.Response:
                # looked up per call: the contexts may be completed after the transport exists
                return handle_request(spec, flask.request, contexts[name])

            app.add_url_rule("/", "function", view, methods=["GET", "POST"])
            app.add_url_rule("/<path:path>", "function_path", view, methods=["GET", "POST"])
            self.apps[name] = app

    def post(self, service: str, *, headers: Mapping[str, str], body: bytes) -> DeliveryResult:
        app = self.apps.get(service)
        if app is None:
            return DeliveryResult(404, body=f"no service {service}")
        response = app.test_client().post("/", headers=dict(headers), data=body)
        reply = _reply_of(response.status_code, dict(response.headers), response.data)
        return DeliveryResult(response.status_code, reply, response.get_data(as_text=True))

    def __call__(self, service: str, event: Event) -> DeliveryResult:
        headers, body = codec.to_http(event)
        return self.post(service, headers=headers, body=body)


class HttpTransport:
    """Delivers over HTTP to served functions, as Knative's broker filter does."""

    def __init__(self, urls: Mapping[str, str], *, timeout_s: float = 120.0) -> None:
        self.urls = dict(urls)
        self.session = requests.Session()
        self.timeout_s = timeout_s

    def __call__(self, service: str, event: Event) -> DeliveryResult:
        url = self.urls.get(service)
        if url is None:
            return DeliveryResult(404, body=f"no service {service}")
        headers, body = codec.to_http(event)
        response = self.session.post(url, headers=headers, data=body, timeout=self.timeout_s)
        reply = _reply_of(response.status_code, dict(response.headers), response.content)
        return DeliveryResult(response.status_code, reply, response.text[:2048])


def minio_webhook_body(*, bucket: str, key: str, etag: str, size: int) -> bytes:
    """The body MinIO's webhook target posts for a PUT (see tests/events/minio-webhook-put.json)."""
    from urllib.parse import quote_plus

    record = {
        "eventVersion": "2.0",
        "eventSource": "minio:s3",
        "awsRegion": "",
        "eventTime": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "eventName": "s3:ObjectCreated:Put",
        "userIdentity": {"principalId": "backup2gitops-demo"},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "Config",
            "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
            "object": {"key": quote_plus(key), "size": size, "eTag": etag, "sequencer": etag[:16]},
        },
    }
    body = {"EventName": "s3:ObjectCreated:Put", "Key": f"{bucket}/{key}", "Records": [record]}
    return json.dumps(body).encode()
