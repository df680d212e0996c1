"""Turning one backup into one commit: the service that combines the pure core and the adapters.

    archive stream --(core.archive)--> items --(core.cleaning)--> clean objects or exclusions
      --(core.repo_layout / core.repo_plan)--> files --(adapters.gitrepo)--> commit + push

The files stream from the archive into the working tree: memory holds one object at a time and
the set of paths, whatever the backup's size. Before that, one pass over the archive reads only
its StatefulSets and CRDs into a ``BackupIndex`` (``core.cleaning.backup_index``: the claims a
StatefulSet creates, the defaults a CRD fills in), which cleaning needs and the archive's order
cannot promise before the objects it concerns. The gitops-generator function and
``backup2gitops generate`` both call ``generate``; ``plan_backup`` is the same pipeline kept in
memory, for tests and benchmarks.
"""

from __future__ import annotations

import collections
import functools
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any, BinaryIO, Protocol, cast

import yaml

from backup2gitops.adapters.gitrepo import CommitResult, GitRemote, Guard
from backup2gitops.core import errors, sops_files, units
from backup2gitops.core.archive import ArchiveLimits, BackupItem, ReadReport, iter_items
from backup2gitops.core.cleaning import INDEXED_RESOURCES, BackupIndex, CleaningPolicy, prepare
from backup2gitops.core.integrity import CheckedReader
from backup2gitops.core.repo_layout import object_path
from backup2gitops.core.repo_plan import iter_tree, plan_tree
from backup2gitops.core.safeguards import BackupMark, DeletionGuard, count_refusal

Transform = Callable[[dict[str, Any]], dict[str, Any] | None]
Previous = Callable[[PurePosixPath], bytes | None]
"""The file committed at a path on the tip being built upon (None: there is none)."""


class Encrypt(Protocol):
    """Encrypts a Secret (``adapters.sops.SopsEncrypter``); returns ``previous``, the committed
    document at the same path, when it already holds this plaintext (no churn)."""

    recipient_list: list[str]

    def __call__(
        self, obj: dict[str, Any], *, previous: Mapping[str, Any] | None = None
    ) -> dict[str, Any]: ...


def committed_document(previous: Previous | None, path: PurePosixPath) -> dict[str, Any] | None:
    """The YAML document committed at ``path``, if there is one and it parses as a mapping."""
    raw = previous(path) if previous is not None else None
    if raw is None:
        return None
    try:
        loaded = yaml.load(raw, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506
    except yaml.YAMLError:
        return None
    return loaded if isinstance(loaded, dict) else None


@dataclass
class Plan:
    """What a backup becomes in the repository: its figures, and (``plan_backup``) its files."""

    cluster: str
    files: dict[PurePosixPath, bytes] = field(default_factory=dict)
    objects: int = 0
    excluded: int = 0
    excluded_by_reason: dict[str, int] = field(default_factory=dict)
    kinds: collections.Counter[tuple[str, str]] = field(default_factory=collections.Counter)


class BackupRefused(errors.Backup2GitopsError):
    """The backup must not become a commit (``code``: archive_empty, archive_incomplete,
    mass_deletion). Never retryable: the same bytes give the same verdict."""

    permanent = True

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, code=code, permanent=True)


@dataclass(frozen=True)
class Claims:
    """What the backup's producer says about it, for the guards (``core.safeguards``)."""

    created_at: datetime | None = None
    """Completion time: orders backups on the branch (None: no order is enforced)."""
    items: int | None = None
    """Objects the producer wrote (manifest counts, Velero's itemsBackedUp); None: unknown."""
    complete: bool = False
    """The producer vouches nothing is missing (native manifest; Velero ``Completed`` with
    itemsBackedUp == totalItems)."""
    max_deletion_share: float = 0.5


def deletion_guard(claims: Claims, report: ReadReport) -> Guard:
    """Refuse a commit removing more than the allowed share, unless both counts confirm it."""
    rule = DeletionGuard(max_share=claims.max_deletion_share)

    def check(before: int, change: CommitResult) -> None:
        confirmed = claims.complete and claims.items is not None and report.items >= claims.items
        refusal = rule.refusal(before=before, removed=change.removed, confirmed_complete=confirmed)
        if refusal:
            raise BackupRefused("mass_deletion", refusal)

    return check


@dataclass(frozen=True)
class Outcome:
    plan: Plan
    commit: CommitResult
    duration_s: float


def placed_objects(
    items: Iterable[BackupItem],
    *,
    plan: Plan,
    policy: CleaningPolicy,
    transforms: Sequence[Transform] = (),
    encrypt: Encrypt | None = None,
    previous: Previous | None = None,
    progress: Callable[[int], None] | None = None,
    index: BackupIndex,
) -> Iterator[tuple[PurePosixPath, Mapping[str, Any]]]:
    """Clean each item and place it, counting what is kept and why the rest is excluded.

    A Secret to encrypt is given the document committed at its path (``previous``), which the
    encrypter returns as it is when the plaintext did not change. ``progress`` is told the
    number of items read so far, after each one. ``index`` is the backup's index (its
    StatefulSets' claim templates, its CRDs' defaults)."""
    for count, item in enumerate(items, 1):
        if progress is not None:
            progress(count)
        prepared = prepare(item.obj, policy=policy, transforms=transforms, index=index)
        if prepared.object is None:
            reason = prepared.excluded or "excluded"
            plan.excluded += 1
            plan.excluded_by_reason[reason] = plan.excluded_by_reason.get(reason, 0) + 1
            continue
        obj = prepared.object
        path = object_path(
            cluster=plan.cluster,
            group_resource=item.group_resource,
            namespace=item.namespace,
            name=item.name,
        )
        if prepared.encrypt:
            if encrypt is None:  # never write a Secret in clear because no encrypter was wired
                raise ValueError("the secret policy asks for encryption but no encrypter is set")
            obj = encrypt(obj, previous=committed_document(previous, path))
        plan.objects += 1
        plan.kinds[(str(obj.get("kind", "?")), item.namespace or "(cluster)")] += 1
        yield path, obj


def plan_backup(
    items: Iterable[BackupItem],
    *,
    cluster: str,
    policy: CleaningPolicy,
    transforms: Sequence[Transform] = (),
    encrypt: Encrypt | None = None,
    previous: Previous | None = None,
    index: BackupIndex | None = None,
    layout: units.Layout | None = None,
) -> Plan:
    """The whole repository tree for ``cluster``, in memory.

    ``index`` is the backup's index (``generate`` builds it in a first pass over the archive);
    without one it is built from ``items``, which are then read into a list first.
    """
    plan = Plan(cluster=cluster)
    if index is None:
        items = list(items)
        index = BackupIndex.of(i.obj for i in items if i.group_resource in INDEXED_RESOURCES)
    placed = placed_objects(
        items,
        plan=plan,
        policy=policy,
        transforms=transforms,
        encrypt=encrypt,
        previous=previous,
        index=index,
    )
    plan.files = plan_tree(cluster=cluster, objects=placed, layout=layout)
    return plan


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
    archive_size: int | None = None,
    archive_sha256: str | None = None,
    claims: Claims | None = None,
    limits: ArchiveLimits | None = None,
    progress: Callable[[int], None] | None = None,
    layout: units.Layout | None = None,
) -> Outcome:
    """Stream the backup into the repository and publish it as one commit.

    The first attempt begins with the index pass (``core.cleaning.BackupIndex``: only the
    StatefulSets and CRDs are decoded), done once for all attempts.
    Each push attempt reads the archive again (a lost race re-applies the change on the new tip).
    A backup already on the branch is a no-op that does not read the archive, unless
    ``plan_noop`` asks for the plan's figures anyway (the CLI reports them).

    ``archive_size`` (and ``archive_sha256``, when the backup has one) are checked while the
    archive streams (``core.integrity``): a mismatch raises IntegrityError before the commit.
    The guards (``claims``): an archive with no items, or fewer than claimed, raises
    ``BackupRefused`` before anything is removed; so does a commit removing more than
    ``max_deletion_share`` of the cluster's objects unless the backup is confirmed complete;
    a backup older than the one the branch reflects is a no-op with a reason.

    With ``encrypt`` (sops), each Secret is compared with the file committed at its path on the
    tip (``remote.committed``) and keeps its bytes when unchanged, and ``.sops.yaml`` at the
    repository's root gets this cluster's creation rule (``core.sops_files``).
    ``progress`` is told how many items were read so far (from 1 again on a retried push).
    ``layout`` cuts the cluster's folder into units and adds entry points (``core.units``).
    """
    started = time.monotonic()
    plans: list[Plan] = []
    claims = claims or Claims()
    report = ReadReport()
    indexes: list[BackupIndex] = []

    def checked(raw: BinaryIO) -> CheckedReader | None:
        if archive_size is None:
            return None
        return CheckedReader(raw, what="the archive", size=archive_size, sha256=archive_sha256)

    def backup_index() -> BackupIndex:
        """The first pass, once for all attempts (they read the same archive)."""
        if not indexes:
            with archive() as raw:
                stream = checked(raw)
                items = iter_items(
                    cast("BinaryIO", stream or raw), limits=limits, only=INDEXED_RESOURCES
                )
                indexes.append(BackupIndex.of(item.obj for item in items))
                if stream is not None:
                    stream.finish()
        return indexes[0]

    def files() -> Iterator[tuple[PurePosixPath, bytes]]:
        plan = Plan(cluster=cluster)
        plans.append(plan)
        nonlocal report
        report = ReadReport()
        index = backup_index()
        with archive() as raw:
            stream = checked(raw)
            placed = placed_objects(
                iter_items(cast("BinaryIO", stream or raw), report=report, limits=limits),
                plan=plan,
                policy=policy,
                transforms=transforms,
                encrypt=encrypt,
                previous=remote.committed,
                progress=progress,
                index=index,
            )
            yield from guarded_tree(
                iter_tree(cluster=cluster, objects=placed, layout=layout),
                report=report,
                claims=claims,
            )
            if stream is not None:
                stream.finish()  # before the commit: the consumer asks for one more file

    result = remote.publish(
        root=PurePosixPath("clusters") / cluster,
        files=files,
        message=lambda counts: commit_message(plan=plans[-1], backup_id=backup_id, result=counts),
        backup_id=backup_id,
        cluster=cluster,
        allow_empty=record_unchanged,
        push_branch=push_branch,
        mark=(
            BackupMark(backup_id=backup_id, created_at=claims.created_at)
            if claims.created_at is not None
            else None
        ),
        guard=lambda before, change: deletion_guard(claims, report)(before, change),
        shared=(
            {
                sops_files.SOPS_CONFIG: functools.partial(
                    sops_files.sops_config, cluster=cluster, recipients=encrypt.recipient_list
                )
            }
            if encrypt is not None
            else None
        ),
    )
    if not plans and plan_noop:
        for _ in files():
            pass
    plan = plans[-1] if plans else Plan(cluster=cluster)
    return Outcome(plan=plan, commit=result, duration_s=time.monotonic() - started)


def guarded_tree(
    files: Iterable[tuple[PurePosixPath, bytes]], *, report: ReadReport, claims: Claims
) -> Iterator[tuple[PurePosixPath, bytes]]:
    """``files``, then the item count check: the work tree has the new files but nothing has
    been removed yet when an empty or gutted archive is refused."""
    yield from files
    refusal = count_refusal(read=report.items, claimed=claims.items)
    if refusal:
        code = "archive_empty" if report.items == 0 else "archive_incomplete"
        raise BackupRefused(code, refusal)
