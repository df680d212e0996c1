"""health-aggregator's status page over its real HTTP runtime: negotiation, access, what it shows."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import jsonschema
import pytest

from backup2gitops.adapters.storage import FileStore
from backup2gitops.core import events
from backup2gitops.core.alerts import Alert
from backup2gitops.core.events import Event
from backup2gitops.runtime.context import FunctionContext
from health_aggregator import handler, status_state
from tests.functional.http_client import client, post_event
from tests.functional.test_health_aggregator import NOW, make_ctx, make_remote, put_backup

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8"
TOKEN = "status-token-0123456789"
SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


@pytest.fixture
def ctx(tmp_path: Path) -> FunctionContext:
    make_remote(tmp_path, [("b1", "prod")])
    context = make_ctx(tmp_path)
    put_backup(context.store, "prod", "b1", timedelta(hours=2))  # type: ignore[arg-type]
    return context


@pytest.mark.parametrize(
    ("accept", "kind"),
    [
        (None, "application/json"),
        ("*/*", "application/json"),
        ("application/json", "application/json"),
        ("text/html, application/json", "application/json"),  # a tie: JSON stays the default
        ("text/html;q=0.5, application/json", "application/json"),
        ("text/html", "text/html"),
        (BROWSER, "text/html"),
        ("application/json;q=0.1, text/html", "text/html"),
    ],
)
def test_status_answers_what_accept_prefers(
    ctx: FunctionContext, accept: str | None, kind: str
) -> None:
    headers = {"Accept": accept} if accept else {}
    response = client(handler.SPEC, ctx).get("/status", headers=headers)
    assert response.status_code == 200
    assert response.mimetype == kind
    assert "Accept" in response.headers["Vary"]
    if kind == "text/html":
        assert 'data-cluster="prod"' in response.get_data(as_text=True)
    else:
        assert response.get_json()["clusters"]["prod"]["last_backup"]["id"] == "b1"


@pytest.mark.parametrize("accept", [None, "*/*", "application/json"])
def test_the_root_is_the_page(ctx: FunctionContext, accept: str | None) -> None:
    response = client(handler.SPEC, ctx).get("/", headers={"Accept": accept} if accept else {})
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert "script-src" not in response.headers["Content-Security-Policy"]
    assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert response.headers["Cache-Control"] == "no-store"


def test_the_page_and_the_json_say_the_same(ctx: FunctionContext) -> None:
    http = client(handler.SPEC, ctx)
    body = http.get("/status").get_json()
    schema = json.loads((SCHEMAS / "status.schema.json").read_text())
    jsonschema.validate(body, schema)  # the published schema is what /status sends
    page = http.get("/status", headers={"Accept": "text/html"}).get_data(as_text=True)
    prod = body["clusters"]["prod"]
    assert f">{prod['last_commit']['commit'][:12]}<" in page
    assert f'<span class="mono">{prod["last_backup"]["id"]}</span>' in page
    assert '<span data-field="age">2h</span>' in page and prod["last_backup"]["age_s"] == 7200
    for name, component in body["components"].items():
        row = page[page.index(f'data-component="{name}"') :].split("</tr>")[0]
        assert f'data-field="health">{component["status"]}<' in row


def test_open_alerts_and_drift_notes_reach_status_and_page(ctx: FunctionContext) -> None:
    prefix = ctx.config.alerts.open_prefix
    firing = Alert(
        labels={
            "alertname": "GitopsFailed",
            "cluster": "prod",
            "component": "gitops",
            "severity": "critical",
        },
        annotations={"summary": "GitOps commit of backup b2 failed for prod"},
        status="firing",
        starts_at=NOW - timedelta(minutes=5),
    )
    ctx.store.put_bytes(f"{prefix}{firing.fingerprint}.json", json.dumps(firing.to_dict()).encode())
    ctx.store.put_bytes(f"{prefix}{firing.fingerprint}.am.notified", b"")  # not an alert
    drifted = Event(
        id="d1",
        source="/backup2gitops/gitops-generator",
        type=events.GITOPS_DRIFTED,
        time=NOW - timedelta(minutes=1),
        cluster="prod",
        data={
            "cluster": "prod",
            "backup_id": "b1",
            "commit": "c" * 40,
            "previous_commit": "d" * 40,
            "findings": [
                {
                    "kind": "ValidatingWebhookConfiguration",
                    "name": "exfil",
                    "rule": "admission-webhook-external",
                    "severity": "critical",
                    "summary": "posts admission reviews to https://evil.example/hook",
                }
            ],
        },
    )
    http = client(handler.SPEC, ctx)
    assert post_event(http, drifted).status_code == 202  # kept; no reply
    assert post_event(http, drifted).status_code == 202  # a redelivery keeps nothing twice
    kept = json.loads(ctx.store.read_bytes(status_state.drift_key(ctx, "prod")))
    assert len(kept["notes"]) == 1

    prod = http.get("/status").get_json()["clusters"]["prod"]
    assert [a["alertname"] for a in prod["open_alerts"]] == ["GitopsFailed"]
    assert [(d["rule"], d["object"]) for d in prod["drift"]] == [
        ("admission-webhook-external", "ValidatingWebhookConfiguration/exfil")
    ]
    page = http.get("/").get_data(as_text=True)
    assert "GitOps commit of backup b2 failed for prod" in page
    assert "<code>admission-webhook-external</code> ValidatingWebhookConfiguration/exfil" in page


def guarded(tmp_path: Path, environ: dict[str, str]) -> FunctionContext:
    make_remote(tmp_path, [("b1", "prod")])
    plain = make_ctx(tmp_path, "health: {status_token: {env: B2G_STATUS_TOKEN}}")
    return FunctionContext(
        plain.config, store=FileStore(tmp_path / "bucket"), environ=environ, clock=lambda: NOW
    )


@pytest.mark.parametrize("path", ["/", "/status"])
@pytest.mark.parametrize(
    "authorization", [None, "Bearer wrong", f"Basic {TOKEN}", f"Bearer {TOKEN}x", TOKEN[:-1]]
)
def test_a_configured_token_is_required(
    tmp_path: Path, path: str, authorization: str | None
) -> None:
    http = client(handler.SPEC, guarded(tmp_path, {"B2G_STATUS_TOKEN": TOKEN}))
    headers = {"Accept": "text/html"} | ({"Authorization": authorization} if authorization else {})
    response = http.get(path, headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.get_json()["error"]["code"] == "unauthorized"
    assert "prod" not in response.get_data(as_text=True)


def test_the_right_token_opens_status_and_probes_stay_open(tmp_path: Path) -> None:
    http = client(handler.SPEC, guarded(tmp_path, {"B2G_STATUS_TOKEN": TOKEN}))
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    assert http.get("/status", headers=bearer).get_json()["clusters"]["prod"]["stale"] is True
    assert http.get("/", headers=bearer).status_code == 200
    assert http.get("/healthz").status_code == 200
    assert http.get("/health").status_code == 200


def test_a_token_reference_without_a_value_fails_closed(tmp_path: Path) -> None:
    http = client(handler.SPEC, guarded(tmp_path, {}))
    assert http.get("/status", headers={"Authorization": "Bearer "}).status_code == 401
    assert http.get("/status").status_code == 401
    assert http.get("/healthz").status_code == 200


def test_the_page_through_a_lambda_function_url(ctx: FunctionContext) -> None:
    """The Function URL (template.yaml) serves the same page, negotiated the same way."""
    from backup2gitops.runtime.aws_lambda import lambda_adapter

    lambda_handler = lambda_adapter(handler.SPEC, context=lambda: ctx)
    request = {
        "version": "2.0",
        "rawPath": "/status",
        "rawQueryString": "",
        "isBase64Encoded": False,
        "headers": {"accept": BROWSER},
        "requestContext": {"http": {"method": "GET", "path": "/status"}},
    }
    page = lambda_handler(request, None)
    assert page["statusCode"] == 200 and page["headers"]["Content-Type"].startswith("text/html")
    assert 'data-cluster="prod"' in page["body"]
    plain = lambda_handler({**request, "headers": {"accept": "*/*"}}, None)
    assert json.loads(plain["body"])["clusters"]["prod"]["last_backup"]["id"] == "b1"
