"""The whole flow on one machine: the five functions, their Triggers, and a local broker.

The composition root for ``demo`` and ``serve``: it is the one module that imports every function
package. Events travel through each function's real HTTP wrapper (in-process with Flask's test
client, or over HTTP to functions-framework servers), so what runs here is what Knative runs.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import flask
import requests
import yaml

from backup2gitops.core.errors import FunctionError
from backup2gitops.core.events import Event
from backup2gitops.core.triggers import Delivery, Destination, parse_delivery
from backup2gitops.runtime import codec
from backup2gitops.runtime.broker import DeliveryResult, LocalBroker, Transport, load_triggers
from backup2gitops.runtime.context import FunctionContext
from backup2gitops.runtime.http import FunctionSpec, handle_request

NAMESPACE = "backup2gitops"  # knative/base/namespace.yaml
DEFAULT_TIMEOUT_S = 120.0
"""A delivery's request timeout when its Trigger sets no ``delivery.timeout``."""

SERVICES = (
    "backup-complete",
    "gitops-generator",
    "health-aggregator",
    "alert-router",
    "cluster-backup",
)
SINK_BOUND = ("backup-complete", "gitops-generator", "health-aggregator")
"""The functions knative/base/sinkbinding.yaml binds to the Broker: they publish more than a reply."""


def function_specs() -> dict[str, FunctionSpec[Any]]:
    """Knative Service name -> the function it runs."""
    import importlib

    modules = [importlib.import_module(f"{name.replace('-', '_')}.handler") for name in SERVICES]
    specs: list[FunctionSpec[Any]] = [module.SPEC for module in modules]
    return {spec.name: spec for spec in specs}


def handler_module_file(service: str) -> Path:
    """The source file functions-framework loads for a service (``--source``)."""
    module = __import__(f"{service.replace('-', '_')}.handler", fromlist=["handler"])
    return Path(module.__file__ or "")


def triggers_dir(explicit: str | None = None) -> Path:
    """An explicit path, else ``$BACKUP2GITOPS_TRIGGERS``, else the packaged Triggers.

    ``backup2gitops/triggers`` is package data: in a checkout it is a symbolic link to the
    repository's ``triggers/`` (what ``kubectl apply -k knative/`` applies), in a wheel a copy.
    """
    candidates = [explicit, os.environ.get("BACKUP2GITOPS_TRIGGERS")]
    candidates.append(str(Path(__file__).parent.parent / "triggers"))
    for candidate in candidates:
        if candidate and Path(candidate, "kustomization.yaml").is_file():
            return Path(candidate)
    raise FileNotFoundError(
        "cannot find the triggers/ directory; pass --triggers DIR or set BACKUP2GITOPS_TRIGGERS"
    )


def broker_delivery(triggers: Path) -> Delivery | None:
    """The Broker's ``spec.delivery`` (knative/base/broker.yaml beside triggers/), if there."""
    path = triggers.resolve().parent / "knative" / "base" / "broker.yaml"
    if not path.is_file():
        return None
    spec = (yaml.safe_load(path.read_text()) or {}).get("spec") or {}
    return parse_delivery(spec["delivery"]) if spec.get("delivery") else None


def new_broker(triggers: str | None, transport: Transport, **options: Any) -> LocalBroker:
    """A local broker with the Triggers of ``triggers/`` and the Broker's own delivery."""
    directory = triggers_dir(triggers)
    return LocalBroker(
        load_triggers(directory), transport, delivery=broker_delivery(directory), **options
    )


NOT_AN_EVENT = (
    "received a non-empty response not recognized as CloudEvent. "
    "The response MUST be either empty or a valid CloudEvent"
)


def delivery_result(status: int, headers: Mapping[str, str], body: bytes) -> DeliveryResult:
    """A subscriber's answer as Knative's broker filter judges it
    (pkg/broker/filter/filter_handler.go ``writeResponse``): a 2xx with a CloudEvent is a reply;
    a 2xx with any other non-empty body, or an invalid event, is a 502 (so retried)."""
    text = body.decode(errors="replace")[:2048]
    if not 200 <= status < 300:
        return DeliveryResult(status, body=text)
    if codec.is_cloudevent(headers):
        try:
            return DeliveryResult(status, codec.parse_http(headers, body), text)
        except FunctionError as exc:
            return DeliveryResult(502, body=f"invalid reply event: {exc.message}", answered=False)
    if body.strip():
        return DeliveryResult(502, body=NOT_AN_EVENT, answered=False)
    return DeliveryResult(status)


def resolve_uri(destination: Destination, base: str | None) -> str | None:
    """A Destination's URL: its ``uri`` alone, or resolved against the ref's address ``base``."""
    if destination.ref is None:
        return destination.uri
    if base is None:
        return None
    return urljoin(base, destination.uri) if destination.uri else base


class HttpTransport:
    """Delivers over HTTP to served functions and ``uri:`` subscribers, as Knative's broker
    filter does."""

    def __init__(self, urls: Mapping[str, str]) -> None:
        self.urls = dict(urls)
        self.session = requests.Session()

    def resolve(self, destination: Destination) -> str | None:
        return resolve_uri(destination, self.urls.get(str(destination.ref)))

    def send(
        self,
        url: str,
        event: Event,
        *,
        timeout_s: float | None,
        headers: Mapping[str, str] | None = None,
    ) -> DeliveryResult:
        own, body = codec.to_http(event)
        sent = {**own, **(headers or {})}
        served = self.in_process(url, headers=sent, body=body)
        if served is not None:
            return served
        response = self.session.post(
            url, headers=sent, data=body, timeout=timeout_s or DEFAULT_TIMEOUT_S
        )
        return delivery_result(response.status_code, dict(response.headers), response.content)

    def in_process(
        self, url: str, *, headers: Mapping[str, str], body: bytes
    ) -> DeliveryResult | None:
        """The answer of a function served in this process at ``url``; None: none is, the
        event goes over HTTP."""
        return None


class InProcessTransport(HttpTransport):
    """Delivers to the functions through their HTTP wrappers without sockets (Flask's test
    client), at the cluster-local addresses Knative gives them; ``uri:`` subscribers over HTTP."""

    def __init__(
        self, specs: Mapping[str, FunctionSpec[Any]], contexts: Mapping[str, FunctionContext]
    ) -> None:
        super().__init__({})
        self.apps: dict[str, flask.Flask] = {}
        self.on_delivery: Callable[[str], None] | None = None
        """Told the service each delivery goes to, before it is made (demo's progress)."""
        for name, spec in specs.items():
            app = flask.Flask(name)

            def view(spec: FunctionSpec[Any] = spec, name: str = name) -> flask.Response:
                # looked up per call: the contexts may be completed after the transport exists
                return handle_request(spec, flask.request, contexts[name])

            app.add_url_rule("/", "function", view, methods=["GET", "POST"])
            app.add_url_rule("/<path:path>", "function_path", view, methods=["GET", "POST"])
            self.apps[name] = app

    @staticmethod
    def address(service: str) -> str:
        return f"http://{service}.{NAMESPACE}.svc.cluster.local/"

    def post(self, service: str, *, headers: Mapping[str, str], body: bytes) -> DeliveryResult:
        app = self.apps.get(service)
        if app is None:
            return DeliveryResult(404, body=f"no service {service}")
        if self.on_delivery is not None:
            self.on_delivery(service)
        response = app.test_client().post("/", headers=dict(headers), data=body)
        return delivery_result(response.status_code, dict(response.headers), response.data)

    def resolve(self, destination: Destination) -> str | None:
        known = destination.ref in self.apps
        return resolve_uri(destination, self.address(str(destination.ref)) if known else None)

    def in_process(
        self, url: str, *, headers: Mapping[str, str], body: bytes
    ) -> DeliveryResult | None:
        host = urlsplit(url).hostname or ""
        service = host.removesuffix(f".{NAMESPACE}.svc.cluster.local")
        if service == host or service not in self.apps:
            return None
        return self.post(service, headers=headers, body=body)


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
