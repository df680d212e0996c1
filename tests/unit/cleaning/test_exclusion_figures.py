"""Exclusion figures stay small whatever the backup (issue 23 item 5).

``excluded_by_reason`` is counted by rule, not by the object a rule names: 10,000 Pods, each
owned by its own ReplicaSet, are one reason. ``gitops.generated`` caps the map anyway (50
reasons of 200 characters at most, the rest summed), so the event stays far under EventBridge's
256 KiB entry limit even when reasons do name something (namespaces not included).
"""

from __future__ import annotations

import json
from typing import Any

from backup2gitops import generation
from backup2gitops.core import events
from backup2gitops.core.archive import BackupItem
from backup2gitops.core.cleaning import CleaningPolicy

EVENTBRIDGE_ENTRY_LIMIT = 256 * 1024
OWNERS = 10_000


def _pod(index: int, namespace: str = "shop") -> BackupItem:
    name = f"web-{index}-abcde"
    obj: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "name": f"web-{index}",
                    "uid": f"uid-{index}",
                    "controller": True,
                }
            ],
        },
        "spec": {"containers": [{"name": "web", "image": "web:1"}]},
    }
    return BackupItem(group_resource="pods", namespace=namespace, name=name, obj=obj)


def _event_bytes(plan: generation.Plan) -> int:
    data = events.GitopsGenerated(
        backup_id="backup-1",
        cluster="prod",
        repository="https://git.example/repo.git",
        branch="main",
        commit="0" * 40,
        excluded=plan.excluded,
        excluded_by_reason=plan.excluded_by_reason,
        objects=plan.objects,
    )
    trigger = events.Event(id="e-1", source="test", type=events.BACKUP_COMPLETED, cluster="prod")
    reply = trigger.reply(type=events.GITOPS_GENERATED, source="gitops-generator", data=data)
    return len(reply.model_dump_json().encode())


def test_ten_thousand_owners_are_one_reason_and_a_small_event() -> None:
    plan = generation.plan_backup(
        (_pod(i) for i in range(OWNERS)), cluster="prod", policy=CleaningPolicy()
    )
    assert plan.excluded == OWNERS
    assert plan.excluded_by_reason == {
        "builtin: owned by controller ReplicaSet (it recreates it)": OWNERS
    }
    size = _event_bytes(plan)
    print(f"gitops.generated with {OWNERS} distinct owners: {size} bytes")
    assert size < EVENTBRIDGE_ENTRY_LIMIT // 100


def test_reasons_that_name_something_are_capped_in_the_event() -> None:
    """10,000 namespaces left out by the policy: 10,000 reasons in the plan (the commit message
    lists them), at most 50 in the event, and every object still counted."""
    policy = CleaningPolicy(include_namespaces=["kept"])
    items = [_pod(i, namespace=f"team-{i:05d}-{'x' * 40}") for i in range(OWNERS)]
    for item in items:
        del item.obj["metadata"]["ownerReferences"]
    plan = generation.plan_backup(items, cluster="prod", policy=policy)
    assert len(plan.excluded_by_reason) == OWNERS
    size = _event_bytes(plan)
    print(f"gitops.generated with {OWNERS} distinct reasons: {size} bytes")
    assert size < EVENTBRIDGE_ENTRY_LIMIT // 10
    capped = events.capped_reasons(plan.excluded_by_reason)
    assert len(capped) == events.MAX_EXCLUSION_REASONS
    assert sum(capped.values()) == OWNERS
    assert capped[events.OTHER_REASONS] == OWNERS - (events.MAX_EXCLUSION_REASONS - 1)


def test_a_long_reason_is_cut_and_small_maps_pass_unchanged() -> None:
    long = "policy: " + "n" * 1000
    assert events.capped_reasons({"a": 1, "b": 2}) == {"a": 1, "b": 2}
    (key,) = events.capped_reasons({long: 3})
    assert len(key) == events.MAX_REASON_CHARS and key.endswith("...")
    assert json.loads(json.dumps(events.capped_reasons({long: 3}))) == {key: 3}
