"""Turning one backup into one commit: the service that combines the pure core and the adapters.

    archive stream --(core.archive)--> items --(core.cleaning)--> clean objects or exclusions
      --(core.repo_layout / core.repo_plan)--> file tree --(adapters.gitrepo)--> commit + push

The gitops-generator function and ``backup2gitops generate`` both call ``generate``.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any, BinaryIO

from backup2gitops.adapters.gitrepo import CommitResult, GitRemote
from backup2gitops.core.archive import BackupItem, iter_items
from backup2gitops.core.cleaning import CleaningPolicy, prepare
from backup2gitops.core.repo_layout import object_path
from backup2gitops.core.repo_plan import plan_tree

Transform = Callable[[dict[str, Any]], dict[str, Any] | None]
Encrypt = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass
class Plan:
    """What a backup becomes in the repository, before anything is written."""

    cluster: str
    files: dict[PurePosixPath, bytes]
    objects: int
    excluded: int
    excluded_by_reason: dict[str, int] = field(default_factory=dict)
    kinds: collections.Counter[tuple[str, str]] = field(default_factory=collections.Counter)


@dataclass(frozen=True)
class Outcome:
    plan: Plan
    commit: CommitResult
    duration_s: float


def plan_backup(
    items: Iterable[BackupItem],
    *,
    cluster: str,
    policy: CleaningPolicy,
    transforms: Sequence[Transform] = (),
    encrypt: Encrypt | None = None,
) -> Plan:
    """Clean every item and lay the survivors out as the repository tree for ``cluster``."""
    placed: list[tuple[PurePosixPath, Mapping[str, Any]]] = []
    excluded: collections.Counter[str] = collections.Counter()
    kinds: collections.Counter[tuple[str, str]] = collections.Counter()
    for item in items:
        prepared = prepare(item.obj, policy=policy, transforms=transforms)
        if prepared.object is None:
            excluded[prepared.excluded or "excluded"] += 1
            continue
        obj = prepared.object
        if prepared.encrypt:
            if encrypt is None:  # never write a Secret in clear because no encrypter was wired
                raise ValueError("the secret policy asks for encryption but no encrypter is set")
            obj = encrypt(obj)
        path = object_path(
            cluster=cluster,
            group_resource=item.group_resource,
            namespace=item.namespace,
            name=item.name,
        )
        placed.append((path, obj))
        kinds[(str(obj.get("kind", "?")), item.namespace or "(cluster)")] += 1
    return Plan(
        cluster=cluster,
        files=plan_tree(cluster=cluster, objects=placed),
        objects=len(placed),
        excluded=sum(excluded.values()),
        excluded_by_reason=dict(excluded),
        kinds=kinds,
    )


def commit_message(*, plan: Plan, backup_id: str, result: CommitResult) -> str:
    """A message a reviewer can read: what changed, by kind and namespace."""
    title = (
        f"{plan.cluster}: backup {backup_id} (+{result.added} ~{result.changed} -{result.removed})"
    )
    lines = [title, "", f"{plan.objects} objects in the repository, {plan.excluded} excluded."]
    if plan.kinds:
        lines += ["", "Objects by kind and namespace:"]
        for (kind, namespace), count in sorted(plan.kinds.items()):
            lines.append(f"  {kind} in {namespace}: {count}")
    if plan.excluded_by_reason:
        lines += ["", "Excluded:"]
        for reason, count in sorted(plan.excluded_by_reason.items()):
            lines.append(f"  {reason}: {count}")
    return "\n".join(lines)


def generate(
    *,
    archive: Callable[[], BinaryIO],
    remote: GitRemote,
    cluster: str,
    backup_id: str,
    policy: CleaningPolicy,
    transforms: Sequence[Transform] = (),
    encrypt: Encrypt | None = None,
    plan_noop: bool = False,
    record_unchanged: bool = True,
    push_branch: str | None = None,
) -> Outcome:
    """Plan the backup (reading the archive at most once) and publish it as one commit.

    A backup already on the branch is a no-op that does not read the archive, unless
    ``plan_noop`` asks for the plan's figures anyway (the CLI reports them).
    """
    started = time.monotonic()
    plans: list[Plan] = []

    def files() -> Mapping[PurePosixPath, bytes]:
        if not plans:
            with archive() as stream:
                plans.append(
                    plan_backup(
                        iter_items(stream),
                        cluster=cluster,
                        policy=policy,
                        transforms=transforms,
                        encrypt=encrypt,
                    )
                )
        return plans[0].files

    result = remote.publish(
        root=PurePosixPath("clusters") / cluster,
        files=files,
        message=lambda counts: commit_message(plan=plans[0], backup_id=backup_id, result=counts),
        backup_id=backup_id,
        cluster=cluster,
        allow_empty=record_unchanged,
        push_branch=push_branch,
    )
    if not plans:
        if plan_noop:
            files()
        else:
            plans.append(Plan(cluster=cluster, files={}, objects=0, excluded=0))
    return Outcome(plan=plans[0], commit=result, duration_s=time.monotonic() - started)
