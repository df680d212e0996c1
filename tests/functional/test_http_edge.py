"""The HTTP edge from the headers alone: the token before the body, for every input shape; HEAD
and 405; and gitops-generator's bucket check. Served by functions-framework's own Flask app
(``runtime.server.create_function_app`` on ``main.py``, as the image serves it), so its routing
is the one under test."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import flask
import pytest

from backup2gitops.adapters.storage import MemoryStore
from backup2gitops.cli.serve import function_server_command
from backup2gitops.config import Config, GitConfig, SecretRef
from backup2gitops.core import events
from backup2gitops.runtime import context as runtime_context
from backup2gitops.runtime.context import FunctionContext
from backup2gitops.runtime.edge_reading import parse_head
from backup2gitops.runtime.http import FunctionSpec, check_token, handle_request
from backup2gitops.runtime.server import create_function_app
from backup_complete.handler import SPEC as BACKUP_COMPLETE
from gitops_generator.handler import SPEC as GITOPS_GENERATOR
from tests.functional.http_client import Unreadable
from tests.functional.test_gitops_generator import ARCHIVE, KEY, completed, post
from tests.git_repos import bare_repository

ROOT = Path(__file__).resolve().parents[2]
MAIN = ROOT / "functions" / "main.py"
TOKEN = "s3cret-token-value"


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    """backup-complete as the image serves it, with a webhook token and a bucket."""
    bucket = tmp_path / "bucket"
    bucket.mkdir()
    config = tmp_path / "config.yaml"
    config.write_text(
        f"storage:\n  url: file://{bucket}\n"
        "backup_complete:\n  webhook_token: {env: HOOK_TOKEN}\n"
    )
    monkeypatch.setenv("BACKUP2GITOPS_CONFIG", str(config))
    monkeypatch.setenv("HOOK_TOKEN", TOKEN)
    monkeypatch.setenv("FUNCTION_TARGET", "backup_complete")
    monkeypatch.setattr(runtime_context, "_default", None)
    app = create_function_app("backup_complete", MAIN)
    yield app.test_client()
    monkeypatch.setattr(runtime_context, "_default", None)


def webhook_body() -> bytes:
    return (ROOT / "tests" / "events" / "minio-webhook-put.json").read_bytes()


CE_HEADERS = {"ce-specversion": "1.0", "ce-id": "e1", "ce-source": "/minio", "ce-type": "x"}
SHAPES = {
    "minio webhook": {"Content-Type": "application/json"},
    "minio webhook + ce- headers": {**CE_HEADERS, "Content-Type": "application/json"},
    "binary cloudevent": {**CE_HEADERS, "Content-Type": "application/json"},
    "structured cloudevent": {"Content-Type": "application/cloudevents+json"},
}
REFUSED = {
    "none": None,
    "wrong": f"Bearer {TOKEN[:-1]}x",
    "a prefix of it": f"Bearer {TOKEN[:5]}",
    "empty": "Bearer ",
    "it and more": f"Bearer {TOKEN}-and-more",
    "another scheme": f"Basic {TOKEN}",
    "bearer alone": "Bearer",
}


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("authorization", REFUSED)
def test_every_shape_is_401_from_the_headers_with_the_body_unread(
    served: Any, shape: str, authorization: str
) -> None:
    headers = dict(SHAPES[shape])
    if REFUSED[authorization] is not None:
        headers["Authorization"] = str(REFUSED[authorization])
    response = served.post(
        "/",
        headers=headers,
        input_stream=Unreadable(),
        environ_overrides={"CONTENT_LENGTH": "1000"},
    )
    assert response.status_code == 401, response.data
    assert response.get_json()["error"]["code"] == "unauthorized"


def test_ce_headers_on_a_webhook_body_do_not_skip_the_token(served: Any) -> None:
    """Issue 22 item 6: four ``ce-`` headers made the token optional."""
    headers = {**CE_HEADERS, "Content-Type": "application/json"}
    assert served.post("/", headers=headers, data=webhook_body()).status_code == 401
    headers["Authorization"] = f"Bearer {TOKEN}"
    assert served.post("/", headers=headers, data=webhook_body()).status_code != 401


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER", "bEaReR"])
def test_the_scheme_is_case_insensitive(served: Any, scheme: str) -> None:
    headers = {"Content-Type": "application/json", "Authorization": f"{scheme} {TOKEN}"}
    response = served.post("/", headers=headers, data=webhook_body())
    assert response.status_code == 202, response.data  # the object is not a backup: no reply


def test_a_token_is_equal_or_refused_never_a_prefix_match() -> None:
    """Kills the mutants ``startswith`` (either way round) in place of ``compare_digest``."""
    ctx = FunctionContext(Config(), environ={"T": TOKEN})
    ref = SecretRef(env="T")  # type: ignore[call-arg]
    check_token(ref, f"Bearer {TOKEN}", ctx)
    check_token(ref, f"bearer {TOKEN}", ctx)
    for presented in (TOKEN[:-1], TOKEN[:1], "", TOKEN + "x", TOKEN + TOKEN):
        with pytest.raises(Exception, match="bearer token"):
            check_token(ref, f"Bearer {presented}", ctx)


def test_the_size_is_checked_from_the_headers_too(served: Any) -> None:
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"}
    response = served.post(
        "/",
        headers=headers,
        input_stream=Unreadable(),
        environ_overrides={"CONTENT_LENGTH": str(100 * 1024 * 1024)},
    )
    assert response.status_code == 413


def test_head_is_get_without_a_body(served: Any) -> None:
    get = served.get("/healthz")
    head = served.head("/healthz")
    assert get.status_code == head.status_code == 200
    assert get.data == b"ok\n" and head.data == b""


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "OPTIONS"])
def test_other_methods_are_405_with_allow(served: Any, method: str) -> None:
    response = served.open("/", method=method, headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"
    assert response.get_json()["error"]["code"] == "method_not_allowed"


def test_get_where_there_is_no_page_is_405(served: Any) -> None:
    for method in ("GET", "HEAD"):
        response = served.open("/", method=method)
        assert response.status_code == 405 and response.headers["Allow"] == "POST"


def test_health_aggregator_head_is_its_get_without_a_body(tmp_path: Path) -> None:
    """Issue 26: ``HEAD /`` on health-aggregator answered 400 ``method_not_allowed``."""
    seen: list[str] = []

    def page(ctx: FunctionContext, request: flask.Request) -> flask.Response:
        seen.append(request.method)
        return flask.Response("<html>status</html>", mimetype="text/html")

    spec = FunctionSpec(name="pages", handle=lambda e, c: None, get_routes={"/": page})
    ctx = FunctionContext(Config(), environ={})
    app = flask.Flask("pages")
    app.add_url_rule(
        "/", "f", lambda: handle_request(spec, flask.request, ctx), methods=["GET", "POST", "PUT"]
    )
    client = app.test_client()
    assert client.get("/").data == b"<html>status</html>"
    head = client.head("/")
    assert head.status_code == 200 and head.data == b"" and seen == ["GET", "HEAD"]
    put = client.put("/")
    assert put.status_code == 405 and put.headers["Allow"] == "GET, HEAD, POST"


def test_gitops_generator_refuses_a_backup_from_another_bucket(tmp_path: Path) -> None:
    """Kills the mutant that switches the ``bucket_mismatch`` check off: the same key in the
    bucket the generator reads must not be taken for the backup the event names."""
    remote = tmp_path / "remote.git"
    bare_repository(remote)
    store = MemoryStore("elsewhere")
    store.put_bytes(KEY, ARCHIVE)  # same key, same bytes: only the bucket differs
    config = Config(git=GitConfig(url=str(remote), cache_dir=tmp_path / "cache"))
    ctx = FunctionContext(config, store=store, environ={})
    app = flask.Flask("g")
    app.add_url_rule(
        "/", "f", lambda: handle_request(GITOPS_GENERATOR, flask.request, ctx), methods=["POST"]
    )
    status, reply = post(app.test_client(), completed())
    assert status == 200 and reply is not None and reply.type == events.GITOPS_FAILED
    failed = events.GitopsFailed.model_validate(reply.data)
    assert failed.code == "bucket_mismatch" and failed.retryable is False
    heads = subprocess.run(
        ["git", "-C", str(remote), "for-each-ref"], capture_output=True, text=True, check=True
    )
    assert heads.stdout == ""  # nothing committed


def test_backup_complete_has_a_token_for_every_shape() -> None:
    assert BACKUP_COMPLETE.token is not None
    assert not hasattr(BACKUP_COMPLETE, "token_for_cloudevents")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"POST / HTTP/1.1\r\nContent-Length: 12\r\nAuthorization: Bearer t", (12, False, "POST")),
        (b"GET /healthz?x=1 HTTP/1.1\r\nHost: h", (0, False, "GET")),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked", (0, True, "POST")),
        (b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2", None),  # gunicorn's to judge
        (b"POST / HTTP/1.1\r\nContent-Length: -1", None),
        (b"POST / HTTP/1.1\r\n folded: value", None),
        (b"POST /\r\nHost: h", None),
        (b"POST / HTTP/2\r\nHost: h", None),
    ],
)
def test_the_edge_reads_what_it_needs_from_the_head(
    raw: bytes, expected: tuple[int, bool, str] | None
) -> None:
    head = parse_head(raw)
    if expected is None:
        assert head is None
        return
    assert head is not None
    assert (head.content_length, head.chunked, head.method) == expected
    assert head.path in ("/", "/healthz")


def test_the_image_and_serve_run_the_edge_server() -> None:
    """What tests/e2e/test_http_edge_server.py starts is what the image and ``serve`` run."""
    entries = [  # the functions and cluster-backup targets (the lambda target runs awslambdaric)
        json.loads(line.removeprefix("ENTRYPOINT"))
        for line in (ROOT / "Containerfile").read_text().splitlines()
        if line.startswith("ENTRYPOINT") and "awslambdaric" not in line
    ]
    assert len(entries) == 2
    for argv in entries:
        assert argv == ["python", "-m", "backup2gitops.runtime.server", "--source", "/app/main.py"]
    command = function_server_command("backup-complete", host="127.0.0.1", port=1)
    assert command[1:3] == ["-m", "backup2gitops.runtime.server"]
