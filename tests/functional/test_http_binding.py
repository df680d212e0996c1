"""The CloudEvents HTTP protocol binding, receiver side: one test per rule of the spec.

Sections are those of cloudevents/spec ``cloudevents/bindings/http-protocol-binding.md`` (1.0.x),
``cloudevents/formats/json-format.md`` and ``cloudevents/spec.md``. Each rule is checked on the
codec and, where it decides what a function or the broker ingress answers, over HTTP through the
real wrapper (Flask test client).
"""

from __future__ import annotations

import base64
import json
from typing import Any

import flask
import pytest

from backup2gitops.cli.serve import ingress_app
from backup2gitops.config import Config
from backup2gitops.core.errors import InvalidInput
from backup2gitops.core.events import BackupRequested, Event
from backup2gitops.runtime import codec
from backup2gitops.runtime.broker import LocalBroker
from backup2gitops.runtime.context import FunctionContext
from backup2gitops.runtime.http import FunctionSpec, handle_request

BINARY = {"ce-specversion": "1.0", "ce-id": "e1", "ce-source": "/src", "ce-type": "t"}
STRUCTURED = {"specversion": "1.0", "id": "e1", "source": "/src", "type": "t"}


def plain(payload: Any) -> Event:
    """Stands for backup-complete's MinIO webhook envelope: marks what it was given."""
    return Event(id="plain", source="/plain", type="plain", data=payload)


def echo(event: Event, ctx: FunctionContext) -> Event:
    return event.reply(type=f"echo.{event.type}", source="/echo", data=BackupRequested())


SPEC = FunctionSpec(name="echo", handle=echo, plain_json=plain)


def post(headers: dict[str, str], body: bytes) -> Any:
    app = flask.Flask("t")
    ctx = FunctionContext(Config(), environ={})
    app.add_url_rule("/", "f", lambda: handle_request(SPEC, flask.request, ctx), methods=["POST"])
    return app.test_client().post("/", headers=headers, data=body)


def rejected(headers: dict[str, str], body: bytes) -> str:
    with pytest.raises(InvalidInput) as caught:
        codec.parse_http(headers, body)
    assert caught.value.status == 400
    return caught.value.message


# --------------------------------------------------------------- section 3: content modes


def test_s3_the_cloudevents_media_type_is_matched_case_insensitively() -> None:
    """3 (and RFC 7231 3.1.1.1): ``Application/CloudEvents+JSON`` is structured mode."""
    body = json.dumps({**STRUCTURED, "data": {"a": 1}}).encode()
    event = codec.parse_http({"Content-Type": "Application/CloudEvents+JSON; charset=UTF-8"}, body)
    assert event.id == "e1" and event.data == {"a": 1}
    # over HTTP: the function reads it as a CloudEvent, not as a plain (MinIO webhook) body
    answer = post({"Content-Type": "APPLICATION/CLOUDEVENTS+JSON"}, body)
    assert answer.status_code == 200 and answer.headers["ce-type"] == "echo.t"


def test_s3_a_plain_json_body_is_not_a_cloudevent() -> None:
    """3: no CloudEvents media type and no ce- headers: the function's own envelope reads it
    (backup-complete's plain MinIO webhook POST)."""
    answer = post({"Content-Type": "application/json"}, b'{"Records": []}')
    assert answer.status_code == 200 and answer.headers["ce-type"] == "echo.plain"


def test_s3_3_only_the_batch_media_type_means_batched_mode() -> None:
    """3.3: batched mode is ``application/cloudevents-batch+json`` (any case); refused, 400."""
    for content_type in (
        "application/cloudevents-batch+json",
        "Application/CloudEvents-Batch+JSON",
    ):
        assert "batch" in rejected({"Content-Type": content_type}, b"[]")
        assert post({"Content-Type": content_type}, b"[]").status_code == 400


def test_s3_1_2_binary_data_that_is_a_json_array_is_one_event() -> None:
    """3.1.2: in binary mode the body is the data, whatever its shape: an array is no batch."""
    event = codec.parse_http({**BINARY, "Content-Type": "application/json"}, b"[1, 2]")
    assert event.data == [1, 2]
    assert post({**BINARY, "Content-Type": "application/json"}, b"[1, 2]").status_code == 200


@pytest.mark.parametrize(
    ("content_type", "body", "data"),
    [
        ("text/plain", b"hello \xe2\x82\xac", "hello \u20ac"),
        ("text/plain; charset=iso-8859-1", b"caf\xe9", "caf\u00e9"),
        ("application/xml", b"<a>1</a>", b"<a>1</a>"),
        ("application/octet-stream", b"\x00\xff\x10", b"\x00\xff\x10"),
    ],
)
def test_s3_1_binary_mode_carries_any_data(content_type: str, body: bytes, data: Any) -> None:
    """3.1 / 3.1.2: binary mode 'accommodates any shape of event data'; Content-Type says what."""
    event = codec.parse_http({**BINARY, "Content-Type": content_type}, body)
    assert event.data == data and event.datacontenttype == content_type
    assert post({**BINARY, "Content-Type": content_type}, body).status_code == 200
    headers, out = codec.to_http(event)  # and it leaves as it came
    assert out == body and headers["Content-Type"] == content_type


def test_s3_1_1_content_type_is_datacontenttype_and_ce_datacontenttype_is_refused() -> None:
    """3.1.1: Content-Type maps to datacontenttype; a ce-datacontenttype header MUST NOT be there."""
    event = codec.parse_http({**BINARY, "Content-Type": "application/json"}, b"{}")
    assert event.datacontenttype == "application/json"
    message = rejected({**BINARY, "ce-datacontenttype": "application/json"}, b"{}")
    assert "ce-datacontenttype" in message


def test_s3_1_3_1_header_names_are_case_insensitive() -> None:
    """3.1.3.1: header names are case-insensitive (RFC 7230 3.2)."""
    headers = {"CE-SpecVersion": "1.0", "Ce-Id": "e1", "CE-SOURCE": "/src", "ce-Type": "t"}
    assert codec.parse_http(headers, b"").id == "e1"


# ---------------------------------------------------------- section 3.1.3.2: header values


def test_s3_1_3_2_header_values_are_percent_decoded_once() -> None:
    """3.1.3.2: one round of percent-decoding, as UTF-8; lower-case hex accepted; the spec's
    example 'Euro%20%E2%82%AC%20%F0%9F%98%80'."""
    headers = {**BINARY, "ce-subject": "Euro%20%E2%82%AC%20%f0%9f%98%80", "ce-note": "100%2541"}
    event = codec.parse_http(headers, b"")
    assert event.subject == "Euro \u20ac \U0001f600"
    assert event.extensions["note"] == "100%41"  # once, not twice


def test_s3_1_3_2_double_quoted_values_are_unescaped_first() -> None:
    """3.1.3.2: a double-quoted value (RFC 7230 3.2.6) is unquoted, backslash escapes too."""
    headers = {**BINARY, "ce-cluster": '"demo"', "ce-note": '"say \\"hi\\""'}
    event = codec.parse_http(headers, b"")
    assert event.cluster == "demo" and event.extensions["note"] == 'say "hi"'


def test_s3_1_3_2_percent_encoded_bytes_that_are_not_utf8_are_rejected() -> None:
    """3.1.3.2: '%C0%A0' (an overlong encoding of U+0020) MUST be rejected."""
    assert "ce-subject" in rejected({**BINARY, "ce-subject": "a%C0%A0b"}, b"")


def test_s3_1_3_2_header_values_are_percent_encoded_when_sending() -> None:
    """3.1.3.2: space, double-quote, percent and non-printable-ASCII are encoded, upper-case."""
    event = Event(id="e1", source="/src", type="t", subject='Euro \u20ac "x" 5%')
    headers, _ = codec.to_http(event)
    assert headers["ce-subject"] == "Euro%20%E2%82%AC%20%22x%22%205%25"
    assert codec.parse_http(headers, b"").subject == event.subject


# ------------------------------------------------------- required attributes, type system


@pytest.mark.parametrize("name", ["specversion", "id", "source", "type"])
def test_a_missing_required_attribute_is_a_400_that_names_it(name: str) -> None:
    """spec.md, REQUIRED Attributes: id, source, specversion, type."""
    binary = {k: v for k, v in BINARY.items() if k != f"ce-{name}"}
    if name == "specversion":  # without it nothing says CloudEvent: name it through the codec
        assert f"ce-{name}" in rejected({**binary, "Content-Type": "application/json"}, b"{}")
    else:
        assert f"ce-{name}" in rejected(binary, b"")
        answer = post({**binary, "Content-Type": "application/json"}, b"{}")
        assert answer.status_code == 400 and f"ce-{name}" in answer.get_json()["error"]["message"]
    structured = {k: v for k, v in STRUCTURED.items() if k != name}
    message = rejected(
        {"Content-Type": "application/cloudevents+json"}, json.dumps(structured).encode()
    )
    assert f"attribute {name}" in message


def test_specversion_other_than_1_0_is_refused() -> None:
    assert "specversion" in rejected({**BINARY, "ce-specversion": "0.3"}, b"")


def test_attribute_names_follow_the_naming_convention() -> None:
    """spec.md, Attribute Naming Convention: lower-case letters and digits only."""
    assert "my-ext" in rejected({**BINARY, "ce-my-ext": "x"}, b"")


def test_json_format_2_2_extensions_keep_their_type() -> None:
    """json-format 2.2: Boolean and Integer extensions are JSON booleans and numbers; in binary
    mode they travel as their canonical strings (spec.md, Type System)."""
    body = json.dumps({**STRUCTURED, "flag": True, "count": 3, "name": "x"}).encode()
    event = codec.parse_http({"Content-Type": "application/cloudevents+json"}, body)
    assert event.extensions == {"flag": True, "count": 3, "name": "x"}
    headers, _ = codec.to_http(event)
    assert (headers["ce-flag"], headers["ce-count"]) == ("true", "3")
    assert "not a CloudEvents attribute type" in rejected(
        {"Content-Type": "application/cloudevents+json"},
        json.dumps({**STRUCTURED, "ratio": 0.5}).encode(),
    )


def test_json_format_3_1_data_base64_is_binary_data() -> None:
    """json-format 3.1: ``data_base64`` carries binary data; with ``data`` beside it, refused."""
    payload = b"\x00\x01binary"
    body = {**STRUCTURED, "datacontenttype": "application/octet-stream"}
    body["data_base64"] = base64.b64encode(payload).decode()
    event = codec.parse_http(
        {"Content-Type": "application/cloudevents+json"}, json.dumps(body).encode()
    )
    assert event.data == payload
    both = json.dumps({**body, "data": "x"}).encode()
    assert "exclusive" in rejected({"Content-Type": "application/cloudevents+json"}, both)


# --------------------------------------------------------------------- the broker ingress


class NoTransport:
    def resolve(self, destination: object) -> None:
        return None

    def send(self, url: str, event: Event, *, timeout_s: float | None) -> Any:
        raise AssertionError("no Trigger matches")


def test_the_broker_ingress_follows_the_same_binding() -> None:
    broker = LocalBroker([], NoTransport())
    ingress = ingress_app(broker).test_client()
    text = ingress.post("/", headers={**BINARY, "Content-Type": "text/plain"}, data=b"hi")
    array = ingress.post("/", headers={**BINARY, "Content-Type": "application/json"}, data=b"[]")
    mixed = ingress.post(
        "/",
        headers={"Content-Type": "Application/CloudEvents+JSON"},
        data=json.dumps({**STRUCTURED, "id": "e2"}).encode(),
    )
    missing = ingress.post("/", headers={k: v for k, v in BINARY.items() if k != "ce-id"})
    assert [r.status_code for r in (text, array, mixed, missing)] == [202, 202, 202, 400]
    assert "ce-id" in missing.get_json()["error"]["message"]
    assert [e.data for e in broker.log.events] == ["hi", [], None]
