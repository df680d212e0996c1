"""The receiver interface, its error, and the one HTTP POST every web receiver makes."""

from __future__ import annotations

import queue
import re
import threading
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Protocol
from urllib.parse import parse_qsl, quote, urlsplit

import requests

from backup2gitops.config.receivers import WebhookUrlReceiverConfig
from backup2gitops.config.types import SecretRef
from backup2gitops.core import errors
from backup2gitops.core.alerts import Alert

_CREDENTIALS = re.compile(r"(://)[^/@\s]+@")
_TOKEN_LIKE = 16
"""A path segment or query value this long may be a token (Slack's are 24, Teams' longer)."""
_DETAIL_CHARS = 4096
"""How much of an error answer is masked before it is cut to 200 characters (a secret cut
in half at the edge would escape masking)."""
_MAX_ANSWER_BYTES = 64 * 1024
"""An answer is kept up to this size; the rest is read (within the deadline) and dropped."""


class ReceiverError(errors.Backup2GitopsError):
    """A delivery failed; ``retryable`` says whether the broker should try the event again."""

    def __init__(self, message: str, *, retryable: bool, status: int | None = None) -> None:
        super().__init__(message, code="receiver_failed", permanent=not retryable)
        self.status = status


class Receiver(Protocol):
    name: str
    health_url: str | None
    repeat_firing: bool
    """True when the service wants a firing alert re-sent while it lasts (Alertmanager)."""

    def send(self, alert: Alert) -> None: ...


def reveal(ref: SecretRef | str, environ: Mapping[str, str], *, what: str) -> str:
    """The value of a secret reference (``ReceiverError`` when it is unset); a plain value
    (a URL the configuration allows inline, ``UrlOrSecret``) as it is."""
    if isinstance(ref, str):
        return ref
    value = ref.reveal(environ)
    if not value:
        raise ReceiverError(f"{what} is not set ({ref!r})", retryable=False)
    return value


def mask(text: str, *secrets: str) -> str:
    """``text`` with credentials in URLs and the given secrets (also URL-encoded) replaced by
    ``***``; the longest first, so a secret containing another is masked whole."""
    masked = _CREDENTIALS.sub(r"\1***@", text)
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        for form in {secret, quote(secret, safe=""), quote(secret, safe="/")}:
            masked = masked.replace(form, "***")
    return masked


def url_secrets(url: str) -> list[str]:
    """The parts of a receiver's URL that may be its credential: the whole URL, its userinfo,
    its path (a Slack or Teams webhook's path IS the token), long path segments, its query."""
    parts = urlsplit(url)
    found = [url, parts.query, parts.password or "", parts.username or ""]
    if len(parts.path) > 1:
        found.append(parts.path)
        found += [segment for segment in parts.path.split("/") if len(segment) >= _TOKEN_LIKE]
    found += [value for _, value in parse_qsl(parts.query) if len(value) >= _TOKEN_LIKE]
    return [item for item in found if item]


def post_json(
    session: requests.Session,
    url: str,
    *,
    payload: Any = None,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    timeout_s: float,
    service: str,
    secrets: Sequence[str] = (),
) -> requests.Response:
    """POST JSON; 5xx, 408, 429 and network errors are retryable, other 4xx are not.

    Error messages name the service and the status, never the URL (it may hold a token); the
    receiver's answer, which may echo the URL, a header or the body, is masked with the URL's
    parts, the header values and ``secrets`` (routing keys, signing secrets) before it is kept.
    ``timeout_s`` bounds the whole request (connect, send, every byte of the answer), not only
    the wait between two bytes: a receiver that drips its answer cannot hold a delivery longer.
    """
    sent_headers = {"Content-Type": "application/json", **(headers or {})}
    hidden = [*url_secrets(url), *(v for k, v in sent_headers.items() if k != "Content-Type")]
    hidden += [*secrets, *(v.split(" ", 1)[-1] for v in sent_headers.values())]
    try:
        response = deadline_post(
            session,
            url,
            json_body=payload if body is None else None,
            data=body,
            headers=sent_headers,
            timeout_s=timeout_s,
        )
    except (requests.Timeout, DeadlineExceeded) as exc:
        raise ReceiverError(f"{service}: timed out after {timeout_s}s", retryable=True) from exc
    except requests.RequestException as exc:
        raise ReceiverError(
            f"{service}: unreachable ({type(exc).__name__})", retryable=True
        ) from exc
    status = response.status_code
    if status >= 300:
        retryable = status >= 500 or status in (408, 429)
        detail = mask(response.text[:_DETAIL_CHARS], *hidden)[:200].strip().replace("\n", " ")
        raise ReceiverError(
            f"{service}: HTTP {status} {detail}".rstrip(), retryable=retryable, status=status
        )
    return response


class DeadlineExceeded(errors.Backup2GitopsError):
    """The whole request took longer than its deadline (a receiver outage: worth retrying)."""

    code = "receiver_deadline"
    permanent = False


def deadline_post(
    session: requests.Session,
    url: str,
    *,
    json_body: Any,
    data: bytes | None,
    headers: Mapping[str, str],
    timeout_s: float,
) -> requests.Response:
    """POST with ``timeout_s`` as a deadline on the whole exchange.

    requests' ``timeout`` bounds each socket wait, so a server sending one header line every
    second never trips it. The exchange runs in a daemon thread and the caller waits at most
    ``timeout_s`` for it; past that, the delivery has failed (retryable) and the thread is left
    to end when the receiver stops (it reads nothing more into memory than the cap below).
    """
    outcome: queue.Queue[requests.Response | Exception] = queue.Queue(maxsize=1)
    abandoned = threading.Event()

    def exchange() -> None:
        try:
            response = session.post(
                url,
                json=json_body,
                data=data,
                headers=dict(headers),
                timeout=timeout_s,
                stream=True,
            )
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_content(chunk_size=4096):
                if abandoned.is_set():
                    response.close()
                    return
                size += len(chunk)
                if size <= _MAX_ANSWER_BYTES:
                    chunks.append(chunk)
            response._content = b"".join(chunks)  # what requests fills in when not streaming
            outcome.put(response)
        except Exception as exc:  # noqa: BLE001 - handed to the caller, which re-raises it
            outcome.put(exc)

    worker = threading.Thread(target=exchange, name="receiver-post", daemon=True)
    worker.start()
    try:
        result = outcome.get(timeout=timeout_s)
    except queue.Empty:
        abandoned.set()
        raise DeadlineExceeded(f"no complete answer within {timeout_s}s") from None
    if isinstance(result, Exception):
        raise result
    return result


def status_emoji(alert: Alert) -> str:
    if alert.status == "resolved":
        return "✅"
    return {"critical": "🔴", "warning": "🟠"}.get(alert.severity, "🔵")


def headline(alert: Alert) -> str:
    """``[FIRING:critical] BackupFailed prod/backup: <summary>``."""
    state = "RESOLVED" if alert.status == "resolved" else f"FIRING:{alert.severity}"
    where = "/".join(v for v in (alert.labels.get("cluster"), alert.labels.get("component")) if v)
    return f"[{state}] {alert.alertname} {where}: {alert.summary}"


class WebReceiver:
    """A receiver that posts each alert to ``url`` (``post_json``): one HTTP session for all its
    sends, ``timeout_s`` for each; ``health_url`` is what the health check probes (None: none)."""

    repeat_firing = False

    def __init__(
        self, *, name: str, url: str, timeout_s: float = 10.0, health_url: str | None = None
    ) -> None:
        self.name = name
        self.url = url
        self.health_url = health_url
        self.timeout_s = timeout_s
        self.session = requests.Session()


class MessageWebhookReceiver(WebReceiver):
    """Posts one JSON message per alert to a webhook URL that is itself a credential.

    Subclasses name the ``service`` and build the message (``to_message``); Slack and Teams.
    """

    service: ClassVar[str]

    @staticmethod
    def to_message(alert: Alert) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def from_config(
        cls, config: WebhookUrlReceiverConfig, *, environ: Mapping[str, str]
    ) -> MessageWebhookReceiver:
        url = reveal(config.url, environ, what=f"{cls.service} webhook url")
        return cls(name=config.name, url=url, timeout_s=config.timeout_s)

    def send(self, alert: Alert) -> None:
        post_json(
            self.session,
            self.url,
            payload=self.to_message(alert),
            timeout_s=self.timeout_s,
            service=f"{self.service} {self.name}",
        )
