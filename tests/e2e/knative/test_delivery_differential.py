"""The local broker held to the real one: the same delivery scenarios on both, compared.

One Broker ``diff`` (namespace ``differential``) on Knative Eventing v0.50.0's MT channel-based
broker (``conftest.project_on_knative``'s control plane), and one ``LocalBroker`` behind the
``serve`` ingress with the very same Trigger objects. The same events are posted to each; one
subscriber server on 127.0.0.1 (a fresh one per broker) records what arrives, and the test
compares the two recordings request by request, attribute by attribute:

- fan-out and filters (``exact``, ``prefix``, a ``suffix`` that does not match);
- retries with exponential and linear backoff, then the Trigger's dead-letter sink; a subscriber
  that succeeds on its third attempt;
- a per-attempt ``timeout`` (the copy dead-lettered without ``knativeerror*``);
- the Broker's own delivery and dead-letter sink for a Trigger that has none (a 400: no retry);
- a 2xx whose body is no CloudEvent (502, dead-lettered without ``knativeerror*``);
- reply chaining, and a reply loop cut by ``knativebrokerttl`` after 255 hops;
- CloudEvents 1.0 and 0.3, in binary and structured mode, posted to the ingress.

Every subscriber is a ``uri:`` one (a ``ref:`` resolves to an address; the flow test covers
refs). What is not compared (values that differ by nature: arrival times, ``User-Agent``, the
tracing headers) is in ``VOLATILE``; what differs by design is in ``DOCUMENTED`` and in
knative/README.md ("The local broker and the real one").
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
import requests
from werkzeug.serving import make_server

from backup2gitops.cli.flow import HttpTransport
from backup2gitops.cli.serve import ingress_app
from backup2gitops.core.triggers import parse_delivery, parse_trigger
from backup2gitops.runtime.broker import LocalBroker
from tests.e2e.knative.conftest import ProjectOnKnative
from tests.e2e.knative.host_proxy import QuietServer
from tests.e2e.servers import wait_for

pytestmark = pytest.mark.e2e
NAMESPACE = "differential"
BROKER = "diff"
WAIT_S = 240.0
INGRESS_ADDRESS = f"http://broker-ingress.knative-eventing.svc.cluster.local/{NAMESPACE}/{BROKER}"
BROKER_DELIVERY = {
    "retry": 1,
    "backoffPolicy": "linear",
    "backoffDelay": "PT0.1S",
    "deadLetterSink": {"uri": "/dls/broker"},
}
#: not compared: they differ by nature (clocks, client libraries, tracing, connection handling)
VOLATILE = {
    "host",
    "content-length",
    "accept",
    "accept-encoding",
    "user-agent",
    "connection",
    "traceparent",
    "tracestate",
    "x-request-id",
    "ce-knativearrivaltime",
}
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$")


def _trigger(
    name: str, filters: list[dict[str, Any]], path: str, **delivery: Any
) -> dict[str, Any]:
    spec: dict[str, Any] = {"broker": BROKER, "filters": filters, "subscriber": {"uri": path}}
    if delivery:
        spec["delivery"] = delivery
    return {
        "apiVersion": "eventing.knative.dev/v1",
        "kind": "Trigger",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": spec,
    }


def exact(type_: str) -> list[dict[str, Any]]:
    return [{"exact": {"type": type_}}]


def dls(path: str, **delivery: Any) -> dict[str, Any]:
    return {"deadLetterSink": {"uri": path}, **delivery}


TRIGGERS = [
    _trigger("fanout-exact", exact("diff.fanout"), "/ok/fanout-exact"),
    _trigger("fanout-prefix", [{"prefix": {"type": "diff.fan"}}], "/ok/fanout-prefix"),
    _trigger(
        "fanout-miss",
        [{"exact": {"type": "diff.fanout"}}, {"suffix": {"source": "/nowhere"}}],
        "/ok/fanout-miss",
    ),
    _trigger(
        "retry-exponential",
        exact("diff.retry.exponential"),
        "/fail503/exponential",
        **dls("/dls/exponential", retry=2, backoffPolicy="exponential", backoffDelay="PT0.1S"),
    ),
    _trigger(
        "retry-linear",
        exact("diff.retry.linear"),
        "/fail503/linear",
        **dls("/dls/linear", retry=2, backoffPolicy="linear", backoffDelay="PT0.1S"),
    ),
    _trigger(
        "flaky",
        exact("diff.flaky"),
        "/flaky/third-time",
        **dls("/dls/flaky", retry=3, backoffPolicy="exponential", backoffDelay="PT0.1S"),
    ),
    _trigger(
        "timeout",
        exact("diff.timeout"),
        "/hold/timeout",
        **dls(
            "/dls/timeout", retry=1, backoffPolicy="linear", backoffDelay="PT0.1S", timeout="PT3S"
        ),
    ),
    _trigger("broker-delivery", exact("diff.brokerdls"), "/fail400/broker-delivery"),
    _trigger("not-an-event", exact("diff.notce"), "/notce/reply", **dls("/dls/notce")),
    _trigger("chain", exact("diff.chain"), "/reply/chain"),
    _trigger("chain-reply", exact("diff.chain.reply"), "/ok/chain-reply"),
    # retried like the others: 255 hops are ~500 requests through a busy machine, and one leg that
    # fails without a status (seen once under load) must not end the loop early; the ingress's 400
    # at the end (the TTL spent) is not retried by either broker
    _trigger(
        "loop",
        exact("diff.loop"),
        "/loop/loop",
        **dls("/dls/loop", retry=2, backoffPolicy="linear", backoffDelay="PT0.5S"),
    ),
    _trigger("modes", exact("diff.modes"), "/ok/modes"),
]

DATA = {"n": 1, "text": "héllo"}


def binary(version: str, type_: str, event_id: str) -> tuple[dict[str, str], bytes]:
    headers = {
        "Ce-Specversion": version,
        "Ce-Id": event_id,
        "Ce-Source": "/differential/test",
        "Ce-Type": type_,
        "Ce-Subject": "s1",
        "Ce-Cluster": "prod",
        "Content-Type": "application/json",
    }
    return headers, json.dumps(DATA).encode()


def structured(version: str, type_: str, event_id: str) -> tuple[dict[str, str], bytes]:
    document = {
        "specversion": version,
        "id": event_id,
        "source": "/differential/test",
        "type": type_,
        "subject": "s1",
        "cluster": "prod",
        "datacontenttype": "application/json",
        "data": DATA,
    }
    return {"Content-Type": "application/cloudevents+json"}, json.dumps(document).encode()


#: (name, headers+body) posted to each broker, in order
POSTS: list[tuple[str, tuple[dict[str, str], bytes]]] = [
    ("fanout", binary("1.0", "diff.fanout", "fanout-1")),
    ("retry-exponential", binary("1.0", "diff.retry.exponential", "exp-1")),
    ("retry-linear", binary("1.0", "diff.retry.linear", "lin-1")),
    ("flaky", binary("1.0", "diff.flaky", "flaky-1")),
    ("timeout", binary("1.0", "diff.timeout", "timeout-1")),
    ("broker-delivery", binary("1.0", "diff.brokerdls", "brokerdls-1")),
    ("not-an-event", binary("1.0", "diff.notce", "notce-1")),
    ("chain", binary("1.0", "diff.chain", "chain-1")),
    ("loop", binary("1.0", "diff.loop", "l")),
    ("binary-1.0", binary("1.0", "diff.modes", "modes-binary-1.0")),
    ("structured-1.0", structured("1.0", "diff.modes", "modes-structured-1.0")),
    ("binary-0.3", binary("0.3", "diff.modes", "modes-binary-0.3")),
    ("structured-0.3", structured("0.3", "diff.modes", "modes-structured-0.3")),
]

#: requests each subscriber path gets once everything has settled, given the accepted posts
EXPECTED = {
    "/ok/fanout-exact": 1,
    "/ok/fanout-prefix": 1,
    "/fail503/exponential": 3,
    "/dls/exponential": 1,
    "/fail503/linear": 3,
    "/dls/linear": 1,
    "/flaky/third-time": 3,
    "/hold/timeout": 1,  # at least: see TIMING_DEPENDENT
    "/dls/timeout": 1,
    "/fail400/broker-delivery": 1,
    "/dls/broker": 1,
    "/notce/reply": 1,
    "/dls/notce": 1,
    "/reply/chain": 1,
    "/ok/chain-reply": 1,
    "/loop/loop": 255,
    "/dls/loop": 1,
}

#: paths whose number of requests depends on the machine's speed, not on the broker: an attempt
#: cut at its ``timeout`` may be cut before the filter has reached the subscriber (on a busy
#: 2-core machine Knative's IMC dispatcher -> filter hop alone has taken longer than 1 s), so the
#: subscriber sees between 1 and ``retry + 1`` requests. Compared: the range, and each distinct copy.
TIMING_DEPENDENT = {"/hold/timeout": (1, 2), "/loop/loop": (255, 270)}
# (a loop's hop retried after a failed leg repeats a copy: its distinct copies are still 255)

#: differences by design, each explained in knative/README.md ("The local broker and the real one")
DOCUMENTED: dict[str, str] = {
    "binary-0.3": "the local broker takes CloudEvents 1.0 only (the functions' codec); 400",
    "structured-0.3": "the local broker takes CloudEvents 1.0 only (the functions' codec); 400",
}


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Subscribers:
    url: str
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    release: threading.Event = field(default_factory=threading.Event)
    attempts: Counter[str] = field(default_factory=Counter)

    def on(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path == path]


@contextlib.contextmanager
def subscribers() -> Iterator[Subscribers]:
    """The subscriber behaviours, by path: ok, fail503, fail400, flaky (503 twice, then 202),
    hold (until released: a timeout), notce (a 200 with a body that is no CloudEvent), reply
    (a reply event), loop (a reply of the same type: a loop), dls (a dead-letter sink)."""
    state: Subscribers

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            with state.lock:
                state.received.append(Received(self.path, dict(self.headers.items()), body))
                state.attempts[self.headers.get("Ce-Id", "")] += 1
                attempt = state.attempts[self.headers.get("Ce-Id", "")]
            kind = self.path.split("/")[1]
            if kind == "hold":
                state.release.wait(timeout=120)
                self._answer(202)
            elif kind == "fail503" or (kind == "flaky" and attempt < 3):
                self._answer(503, b"down", "text/plain")
            elif kind == "fail400":
                self._answer(400, b"bad request", "text/plain")
            elif kind == "notce":
                self._answer(200, b"ok", "text/plain")
            elif kind in ("reply", "loop"):
                type_ = self.headers["Ce-Type"] + (".reply" if kind == "reply" else "")
                reply_id = self.headers["Ce-Id"] + ("-reply" if kind == "reply" else "r")
                headers = {
                    "Ce-Specversion": "1.0",
                    "Ce-Id": reply_id,
                    "Ce-Source": "/differential/replier",
                    "Ce-Type": type_,
                }
                self._answer(200, b'{"reply": true}', "application/json", headers)
            else:
                self._answer(202)

        def _answer(
            self,
            status: int,
            body: bytes = b"",
            content_type: str | None = None,
            headers: dict[str, str] | None = None,
        ) -> None:
            self.send_response(status)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            if content_type:
                self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = QuietServer(("127.0.0.1", 0), Handler)
    state = Subscribers(url=f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.release.set()
        server.shutdown()
        server.server_close()


def with_base(obj: Any, base: str) -> Any:
    """``obj`` with every subscriber/dead-letter ``uri`` made absolute on ``base``."""
    text = json.dumps(obj)
    text = re.sub(r'"uri": "(/[^"]*)"', lambda m: f'"uri": "{base}{m.group(1)}"', text)
    return json.loads(text)


@dataclass
class Run:
    statuses: dict[str, int]
    received: list[Received]


def run_scenarios(ingress: str, subs: Subscribers) -> Run:
    statuses = {}
    for name, (headers, body) in POSTS:
        answer = requests.post(ingress, headers=headers, data=body, timeout=60)
        statuses[name] = answer.status_code
    accepted_modes = sum(
        1 for name, status in statuses.items() if name.endswith(("1.0", "0.3")) and status == 202
    )
    expected = {**EXPECTED, "/ok/modes": accepted_modes}
    for path, count in expected.items():
        wait_for(
            lambda: len(subs.on(path)) >= count or None,  # noqa: B023
            timeout=WAIT_S,
            what=f"{count} request(s) at {path} (have {len(subs.on(path))})",
        )
    subs.release.set()
    with subs.lock:
        return Run(statuses, list(subs.received))


def normal(request: Received, base: str) -> dict[str, Any]:
    """What is compared of one request: every header but the volatile ones (lower-cased, the
    subscriber server's address replaced by BASE), the body as JSON when it is, the arrival time
    checked for its format only, knativeerrordata decoded."""
    headers = {k.lower(): v.replace(base, "BASE") for k, v in request.headers.items()}
    arrival = headers.get("ce-knativearrivaltime")
    out: dict[str, Any] = {k: v for k, v in headers.items() if k not in VOLATILE}
    out["ce-knativearrivaltime"] = "RFC3339" if arrival and RFC3339.match(arrival) else arrival
    if "ce-knativeerrordata" in out:
        out["ce-knativeerrordata"] = base64.b64decode(out["ce-knativeerrordata"]).decode()
    try:
        out["body"] = json.loads(request.body) if request.body else None
    except ValueError:
        out["body"] = request.body.decode(errors="replace")
    return out


def by_path(run: Run, base: str) -> dict[str, list[dict[str, Any]]]:
    paths: dict[str, list[dict[str, Any]]] = {}
    for request in run.received:
        paths.setdefault(request.path, []).append(normal(request, base))
    for copies in paths.values():
        copies.sort(key=lambda c: json.dumps(c, sort_keys=True))
    return paths


def _distinct(copies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    unique = {json.dumps(c, sort_keys=True): c for c in copies}
    return [unique[key] for key in sorted(unique)]


def one_event(run: Run, path: str) -> list[Received]:
    """The requests at ``path``: one event (one ``Ce-Id``), delivered at least once. Knative's
    dispatchers deliver at least once: on a busy machine a dead letter has come twice (a hop of
    the loop retried after a failed leg forks it, and both copies end at the TTL, with the same
    ids, since each reply's id is the request's and ``r``). ``differences`` treats identical
    extra copies alike; the local broker's counts are held to ``EXPECTED`` exactly."""
    copies = [r for r in run.received if r.path == path]
    assert len({r.headers.get("Ce-Id") for r in copies}) == 1 <= len(copies), (path, copies)
    return copies


def _event(copy: dict[str, Any]) -> str:
    """The event a delivered copy carries (its id, source, type and body), whatever Knative's
    dispatch added to it (its error extensions)."""
    keys = ("ce-id", "ce-source", "ce-type", "body")
    return json.dumps([copy.get(key) for key in keys], sort_keys=True)


def _at_least_once(theirs: list[dict[str, Any]], mine: list[dict[str, Any]]) -> bool:
    """Whether Knative's copies at a path are its at-least-once delivery of the local broker's:
    each local copy is one of Knative's, exactly, and each of Knative's carries one of the same
    events. Knative's dispatchers deliver at least once: on a busy machine its channel
    dispatcher has sent a copy twice (CI saw a second dead letter of the same event), and a
    dead letter has come twice with other error extensions (CI, 2026-12-08: two requests at
    /dls/broker, not kept then: ``_brief`` now shows them in the failure)."""
    events = {_event(copy) for copy in mine}
    return all(copy in theirs for copy in mine) and all(_event(c) in events for c in theirs)


def _brief(copies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each copy's id and what Knative's dispatch said of it, for a failure's message."""
    return [
        {k: v for k, v in copy.items() if k == "ce-id" or k.startswith("ce-knativeerror")}
        for copy in copies
    ]


def differences(real: Run, local: Run, real_base: str, local_base: str) -> list[str]:
    found = []
    for name in dict(POSTS):
        if name in DOCUMENTED:
            continue
        if real.statuses[name] != local.statuses[name]:
            found.append(f"POST {name}: real {real.statuses[name]}, local {local.statuses[name]}")
    real_paths, local_paths = by_path(real, real_base), by_path(local, local_base)
    for path in sorted(set(real_paths) | set(local_paths)):
        mine, theirs = local_paths.get(path, []), real_paths.get(path, [])
        if path == "/ok/modes":  # the documented 0.3 posts are not in the local run
            theirs = [c for c in theirs if c.get("ce-specversion") != "0.3"]
        if path in TIMING_DEPENDENT:
            low, high = TIMING_DEPENDENT[path]
            for who, copies in (("real", theirs), ("local", mine)):
                if not low <= len(copies) <= high:
                    found.append(f"{path}: {who} {len(copies)} request(s), not {low}..{high}")
            mine, theirs = _distinct(mine), _distinct(theirs)
        elif len(theirs) > len(mine) and _at_least_once(theirs, mine):
            # Knative's extra copies are its at-least-once delivery, not a difference: the local
            # copies are compared with the ones of Knative's they equal; the local broker's own
            # counts are held to EXPECTED exactly (test_the_local_broker_delivers_what_knati...).
            mine, theirs = _distinct(mine), _distinct([c for c in theirs if c in mine])
        if len(mine) != len(theirs):
            found.append(
                f"{path}: real {len(theirs)} request(s), local {len(mine)} "
                f"(real {_brief(theirs)}, local {_brief(mine)})"
            )
            continue
        for real_copy, local_copy in zip(theirs, mine, strict=True):
            for key in sorted(set(real_copy) | set(local_copy)):
                if real_copy.get(key) != local_copy.get(key):
                    found.append(
                        f"{path} {key}: real {real_copy.get(key)!r}, local {local_copy.get(key)!r}"
                    )
    return found


def apply_real(project: ProjectOnKnative, base: str) -> None:
    plane = project.knative
    broker = {
        "apiVersion": "eventing.knative.dev/v1",
        "kind": "Broker",
        "metadata": {
            "name": BROKER,
            "namespace": NAMESPACE,
            "annotations": {
                "eventing.knative.dev/broker.class": "MTChannelBasedBroker",
                "messaging.knative.dev/async-handler": "true",  # as knative/base/broker.yaml
            },
        },
        "spec": {"delivery": with_base(BROKER_DELIVERY, base)},
    }
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}
    objects = [namespace, broker, *(with_base(t, base) for t in TRIGGERS)]
    plane.apply_defaulted("\n---\n".join(json.dumps(o) for o in objects), namespace=NAMESPACE)
    root = f"/apis/eventing.knative.dev/v1/namespaces/{NAMESPACE}"
    plane.wait_ready(f"{root}/brokers/{BROKER}", what=f"Broker {BROKER} Ready")
    for t in TRIGGERS:
        name = t["metadata"]["name"]
        plane.wait_ready(f"{root}/triggers/{name}", what=f"Trigger {name} Ready")
    for t in TRIGGERS:
        plane.wait_trigger_in_filter(NAMESPACE, t["metadata"]["name"])


def delete_real(project: ProjectOnKnative) -> None:
    project.knative.cluster.kubectl(
        "delete", "namespace", NAMESPACE, "--wait=false", "--ignore-not-found"
    )


@contextlib.contextmanager
def local_ingress(base: str) -> Iterator[str]:
    triggers = [parse_trigger(with_base(t, base)) for t in TRIGGERS]
    broker = LocalBroker(
        triggers,
        HttpTransport({}),
        delivery=parse_delivery(with_base(BROKER_DELIVERY, base)),
        namespace=NAMESPACE,
        ingress_url=INGRESS_ADDRESS,
    )
    server = make_server("127.0.0.1", 0, ingress_app(broker), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()


def test_the_local_broker_delivers_what_knatives_broker_delivers(
    project_on_knative: ProjectOnKnative,
) -> None:
    with subscribers() as real_subs:
        apply_real(project_on_knative, real_subs.url)
        try:
            real = run_scenarios(
                project_on_knative.knative.broker_url(NAMESPACE, BROKER), real_subs
            )
        finally:
            delete_real(project_on_knative)
    with subscribers() as local_subs, local_ingress(local_subs.url) as ingress:
        local = run_scenarios(ingress, local_subs)

    # what Knative itself did, measured (the local broker is then held to it)
    assert len({r.headers["Ce-Id"] for r in real.received if r.path == "/loop/loop"}) == 255
    proxied = project_on_knative.knative.proxy.failures
    for looped in one_event(real, "/dls/loop"):
        assert looped.headers.get("Ce-Knativeerrorcode") == "400", (looped.headers, proxied)
        assert looped.headers.get("Ce-Knativeerrordest") == INGRESS_ADDRESS, (
            looped.headers,
            proxied,
        )
    for timed_out in one_event(real, "/dls/timeout"):
        assert not [h for h in timed_out.headers if h.lower().startswith("ce-knativeerror")]
        assert "Prefer" not in timed_out.headers and "Ce-Knativebrokerttl" in timed_out.headers
    first = next(r for r in real.received if r.path == "/ok/fanout-exact")
    assert first.headers["Prefer"] == "reply" and first.headers["Kn-Namespace"] == NAMESPACE
    assert not [r for r in real.received if r.path == "/ok/fanout-miss"]

    # the local broker is deterministic: exactly the expected requests at each path
    for path, count in EXPECTED.items():
        if path not in TIMING_DEPENDENT:
            assert len([r for r in local.received if r.path == path]) == count, path

    found = differences(real, local, real_subs.url, local_subs.url)
    assert not found, "the local broker differs from Knative's:\n" + "\n".join(found)
    for name, reason in DOCUMENTED.items():
        assert local.statuses[name] == 400, reason


def test_a_trigger_that_does_not_resolve_is_not_ready_and_its_events_vanish(
    project_on_knative: ProjectOnKnative,
) -> None:
    """Measured behaviour 2: Knative accepts the event (202) and skips the Trigger, which is not
    Ready; the deploy check that catches it is ``kubectl wait --for=condition=Ready trigger``."""
    plane = project_on_knative.knative
    with subscribers() as subs:
        typo = {
            "apiVersion": "eventing.knative.dev/v1",
            "kind": "Trigger",
            "metadata": {"name": "typo", "namespace": "backup2gitops"},
            "spec": {
                "broker": "backup2gitops",
                "filters": exact("diff.typo"),
                "subscriber": {
                    "ref": {
                        "apiVersion": "serving.knative.dev/v1",
                        "kind": "Service",
                        "name": "gitops-generater",
                    }
                },
                "delivery": {"deadLetterSink": {"uri": subs.url + "/dls/typo"}},
            },
        }
        witness = _trigger("typo-witness", exact("diff.typo"), subs.url + "/ok/witness")
        witness["metadata"]["namespace"] = "backup2gitops"
        witness["spec"]["broker"] = "backup2gitops"
        plane.apply_defaulted(
            "\n---\n".join(json.dumps(o) for o in (typo, witness)), namespace="backup2gitops"
        )
        path = "/apis/eventing.knative.dev/v1/namespaces/backup2gitops/triggers"
        plane.wait_ready(f"{path}/typo-witness", what="Trigger typo-witness Ready")
        plane.wait_trigger_in_filter("backup2gitops", "typo-witness")

        def unresolved() -> dict[str, Any] | None:
            conditions = plane.get(f"{path}/typo").get("status", {}).get("conditions", [])
            found = [c for c in conditions if c["type"] == "SubscriberResolved"]
            return found[0] if found and found[0]["status"] == "False" else None

        condition = wait_for(unresolved, timeout=WAIT_S, what="typo: SubscriberResolved False")
        assert "gitops-generater" in condition.get("message", "")
        headers, body = binary("1.0", "diff.typo", "typo-1")
        answer = requests.post(
            project_on_knative.broker_url, headers=headers, data=body, timeout=60
        )
        assert answer.status_code == 202
        wait_for(lambda: subs.on("/ok/witness") or None, timeout=WAIT_S, what="the witness copy")
        # the witness has its copy; the unresolved Trigger's copy went nowhere, not even its DLS
        assert not subs.on("/dls/typo")
        waited = plane.cluster.kubectl(
            "wait",
            "-n",
            "backup2gitops",
            "--for=condition=Ready",
            "--timeout=1s",
            "trigger/typo",
            check=False,
        )
        assert waited.returncode != 0  # the post-deploy check in knative/README.md catches it
        plane.cluster.kubectl("delete", "-n", "backup2gitops", "trigger", "typo", "typo-witness")


def test_knatives_extra_copies_of_the_same_event_are_at_least_once_not_a_difference() -> None:
    """``differences`` on made-up runs: a dead letter Knative sent twice, once with other error
    extensions, is its at-least-once delivery; a copy the local broker made that Knative did not,
    or another event among Knative's copies, is a difference."""
    statuses = {name: 202 for name, _ in POSTS}

    def dead_letter(code: str, event: str = "brokerdls-1") -> Received:
        headers = {"Ce-Id": event, "Ce-Type": "diff.brokerdls", "Ce-Knativeerrorcode": code}
        return Received("/dls/broker", headers, b"{}")

    local = Run(statuses, [dead_letter("400")])
    twice = Run(statuses, [dead_letter("400"), dead_letter("502")])
    assert differences(twice, local, "R", "L") == []
    assert differences(Run(statuses, [dead_letter("400")] * 2), local, "R", "L") == []
    other_event = Run(statuses, [dead_letter("400"), dead_letter("400", "another")])
    assert differences(other_event, local, "R", "L")
    (found,) = differences(Run(statuses, [dead_letter("502")] * 2), local, "R", "L")
    assert found.startswith("/dls/broker: real 2 request(s), local 1")
    assert "'ce-knativeerrorcode': '502'" in found
