"""Two stacks of template.yaml (prod and staging) in one account and region: everything named is
named after its stack, so creating the second collides with nothing of the first (moto's server,
provisioned from the translated template as tests/e2e/aws/provision.py does)."""

from __future__ import annotations

import pytest

from tests.e2e.aws.cloudformation import REGION, Stack, translate
from tests.e2e.aws.provision import MotoSession, provision

NAMED = ("AWS::S3::Bucket", "AWS::Events::EventBus", "AWS::DynamoDB::Table", "AWS::SQS::Queue")

pytestmark = pytest.mark.e2e


def test_two_stacks_in_one_account_and_region_do_not_collide(moto_endpoint: str) -> None:
    moto = MotoSession(moto_endpoint)
    template = translate()
    params = {"GitRepositoryUrl": "https://git.example.com/x.git", "ClusterName": "c"}
    made = {}
    for name in ("prod", "staging"):
        stack = Stack(name, template, {**params, "ClusterName": name})
        provisioned = provision(stack, moto)  # a name taken twice raises (bus, schedule)
        names = {stack.physical[k] for t in NAMED for k in stack.resources(t)}
        names |= set(provisioned.schedules.values())
        made[name] = names
    assert made["prod"] and not made["prod"] & made["staging"], made
    buckets = {b["Name"] for b in moto.client("s3").list_buckets()["Buckets"]}
    assert {f"{n}-123456789012-{REGION}" for n in made} <= buckets
    schedules = {s["Name"] for s in moto.client("scheduler").list_schedules()["Schedules"]}
    assert {"prod-backup", "prod-health", "staging-backup", "staging-health"} <= schedules
