"""The HTTP edge against the real server process (issue 22 item 5): backup-complete served as the
image serves it (``python -m backup2gitops.runtime.server``: functions-framework's app under
gunicorn) and through ``backup2gitops serve --function``, on 127.0.0.1, over raw sockets.

Before: eight slow-header or slow-body connections held all of gunicorn's threads (4 x 2 CPUs)
and every other request waited for ever; a declared body that never came held its connection.
Outcomes only: the slow clients here have deadlines of 600 s, so they are all still waiting when
the normal requests are answered; the 408 tests use 1-3 s deadlines and wait up to 120 s."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.slow_clients import (
    TOKEN,
    WEBHOOK,
    connect,
    edge_server,
    exchange,
    post_bytes,
    read_answer,
    read_answers,
    slow_body_client,
    slow_header_client,
    unanswered,
)

pytestmark = pytest.mark.e2e


def error_code(body: bytes) -> str:
    return str(json.loads(body)["error"]["code"])


@pytest.mark.parametrize("how", ["image", "serve"])
def test_32_slow_clients_do_not_stall_normal_requests(tmp_path: Path, how: str) -> None:
    with edge_server(tmp_path, how=how) as port:
        slow = [slow_header_client(port) for _ in range(16)]
        slow += [slow_body_client(port) for _ in range(16)]
        try:
            for _ in range(3):
                answer = exchange(port, post_bytes(WEBHOOK))
                assert answer.status == 202, answer  # a webhook for an object that is no backup
                assert exchange(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").status == 200
            assert all(unanswered(sock) for sock in slow)  # still held, by no thread
        finally:
            for sock in slow:
                sock.close()


def test_withheld_headers_and_body_get_408_and_an_idle_connection_is_closed(
    tmp_path: Path,
) -> None:
    # 3 s: the deadline runs from accept, and a worker the machine leaves unscheduled past it
    # would drop a connection whose bytes it has not read yet as idle
    with edge_server(tmp_path, header_timeout_s=3, body_timeout_s=3) as port:
        headers = slow_header_client(port)
        body = slow_body_client(port)
        idle = connect(port)
        try:
            answer = read_answer(headers)
            assert answer.status == 408 and error_code(answer.body) == "header_timeout"
            assert answer.headers["connection"] == "close"
            answer = read_answer(body)
            assert answer.status == 408 and error_code(answer.body) == "body_timeout"
            assert "10 of 1000 bytes" in json.loads(answer.body)["error"]["message"]
            assert idle.recv(1) == b""  # closed, nothing said: nothing was asked
            assert exchange(port, post_bytes(WEBHOOK)).status == 202
        finally:
            for sock in (headers, body, idle):
                sock.close()


def test_a_declared_big_body_is_answered_from_the_headers(tmp_path: Path) -> None:
    """100 MB declared, none sent: 401 without the token, 413 with it, at once, never 408."""
    head = "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    big = "Content-Length: 104857600\r\n"
    with edge_server(tmp_path) as port:
        answer = exchange(port, (head + big + "\r\n").encode())
        assert answer.status == 401 and error_code(answer.body) == "unauthorized"
        authorized = f"{head}Authorization: Bearer {TOKEN}\r\n{big}\r\n".encode()
        answer = exchange(port, authorized)
        assert answer.status == 413 and error_code(answer.body) == "body_too_large"


def test_ce_headers_do_not_skip_the_token_on_the_wire(tmp_path: Path) -> None:
    ce = "ce-specversion: 1.0\r\nce-id: e1\r\nce-source: /x\r\nce-type: t\r\n"
    with edge_server(tmp_path) as port:
        answer = exchange(port, post_bytes(WEBHOOK, token=None, extra=ce))
        assert answer.status == 401
        answer = exchange(port, post_bytes(WEBHOOK, token="wrong", extra=ce))
        assert answer.status == 401
        lowercase = post_bytes(WEBHOOK, token=None, extra=f"authorization: bearer {TOKEN}\r\n")
        assert exchange(port, lowercase).status == 202


def test_head_is_get_without_a_body_and_other_methods_are_405(tmp_path: Path) -> None:
    with edge_server(tmp_path) as port:
        with connect(port) as sock:
            sock.sendall(b"HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            sock.settimeout(5)
            data = b""
            while b"\r\n\r\n" not in data:
                data += sock.recv(4096)
            assert data.startswith(b"HTTP/1.1 200")
            assert data.endswith(b"\r\n\r\n")  # no body after the headers
        for method in ("PUT", "DELETE", "PATCH", "OPTIONS"):
            raw = f"{method} / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n".encode()
            answer = exchange(port, raw)
            assert answer.status == 405 and answer.headers["allow"] == "POST", method


def test_expect_continue_pipelining_and_chunked_bodies_still_work(tmp_path: Path) -> None:
    with edge_server(tmp_path) as port:
        with connect(port) as sock:  # curl's Expect: 100-continue
            raw = post_bytes(WEBHOOK, extra="Expect: 100-continue\r\n")
            head, _, body = raw.partition(b"\r\n\r\n")
            sock.sendall(head + b"\r\n\r\n")
            interim = b""
            while b"\r\n\r\n" not in interim:  # the interim answer, before any body is sent
                interim += sock.recv(1)
            assert interim.startswith(b"HTTP/1.1 100")
            sock.sendall(body)
            assert read_answer(sock).status == 202
        with connect(port) as sock:  # two requests in one write
            one = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
            sock.sendall(one + post_bytes(WEBHOOK))
            assert [answer.status for answer in read_answers(sock, 2)] == [200, 202]
        with connect(port) as sock:  # a chunked body is read by the thread, under the deadline
            head = (
                "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                f"Authorization: Bearer {TOKEN}\r\nTransfer-Encoding: chunked\r\n\r\n"
            )
            chunk = f"{len(WEBHOOK):x}\r\n".encode() + WEBHOOK + b"\r\n0\r\n\r\n"
            sock.sendall(head.encode() + chunk)
            assert read_answer(sock).status == 202


def test_oversized_headers_are_431(tmp_path: Path) -> None:
    with edge_server(tmp_path) as port, connect(port) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        try:
            for _ in range(100):
                sock.sendall(b"X-Padding: " + b"p" * 1000 + b"\r\n")
        except OSError:
            pass  # the server may close before all of it is sent
        answer = read_answer(sock)
        assert answer.status == 431 and error_code(answer.body) == "headers_too_large"


def test_a_slow_chunked_body_gets_408(tmp_path: Path) -> None:
    with edge_server(tmp_path, body_timeout_s=1) as port, connect(port) as sock:
        head = (
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Authorization: Bearer {TOKEN}\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        sock.sendall(head.encode() + b"400\r\n" + b"x" * 10)
        answer = read_answer(sock)
        assert answer.status == 408 and error_code(answer.body) == "body_timeout"


def test_a_refused_chunked_body_left_unsent_ends_in_a_close_not_a_500(tmp_path: Path) -> None:
    """The app answers 401 from the headers; gunicorn drains the rest of the body under the body
    deadline, which passes: the connection is closed with nothing more said."""
    with edge_server(tmp_path, body_timeout_s=1) as port, connect(port) as sock:
        head = (
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\n\r\n"
        )
        sock.sendall(head.encode() + b"400\r\n" + b"x" * 10)
        answer = read_answer(sock)
        assert answer.status == 401
        rest = b""
        while chunk := sock.recv(65536):
            rest += chunk
        assert rest == b""
