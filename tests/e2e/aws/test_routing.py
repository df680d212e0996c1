"""EventBridge routes each event type to exactly the functions Knative's Triggers route it to
(triggers/*.yaml): every io.backup2gitops.* type is put on the bus of a stack provisioned in moto
from the translated template, and the target queues that received it are compared."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.e2e.aws.cloudformation import REPO, Stack, translate
from tests.e2e.aws.provision import MotoSession, provision

TRIGGERS = REPO / "triggers"

pytestmark = pytest.mark.e2e


def knative_routes() -> dict[str, set[str]]:
    """Event type -> the functions whose Trigger takes it (exact type filter)."""
    routes: dict[str, set[str]] = {}
    for path in sorted(TRIGGERS.glob("*.yaml")):
        doc = yaml.safe_load(path.read_text())
        if not isinstance(doc, dict) or doc.get("kind") != "Trigger":
            continue
        for item in doc["spec"].get("filters", []):
            kind = item.get("exact", {}).get("type", "")
            if kind.startswith("io.backup2gitops."):
                routes.setdefault(kind, set()).add(doc["spec"]["subscriber"]["ref"]["name"])
    return routes


def test_the_bus_routes_every_type_as_the_knative_triggers_do(moto_endpoint: str) -> None:
    moto = MotoSession(moto_endpoint)
    stack = Stack(
        "routing",
        translate(),
        {"GitRepositoryUrl": "https://git.example.com/x.git", "ClusterName": "c"},
    )
    provisioned = provision(stack, moto)
    service = {  # function logical id -> its name (POWERTOOLS_SERVICE_NAME), as in triggers/
        logical: resource["Properties"]["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"]
        for logical, resource in stack.resources("AWS::Lambda::Function").items()
    }
    events, sqs = moto.client("events"), moto.client("sqs")
    expected = knative_routes()
    types = sorted(p.stem for p in (REPO / "schemas").glob("io.backup2gitops.*.json"))
    assert set(expected) <= set(types)
    routed: dict[str, set[str]] = {}
    for kind in types:
        detail = {"specversion": "1.0", "id": kind, "source": "/test", "type": kind, "data": {}}
        put = events.put_events(
            Entries=[
                {
                    "EventBusName": stack.physical["EventBus"],
                    "Source": "/backup2gitops/test",
                    "DetailType": kind,
                    "Detail": json.dumps(detail),
                }
            ]
        )
        assert put["FailedEntryCount"] == 0
        for logical, url in provisioned.target_queues.items():
            got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
            for message in got:
                assert json.loads(message["Body"])["detail-type"] == kind
                routed.setdefault(kind, set()).add(service[logical])
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    assert routed == expected
