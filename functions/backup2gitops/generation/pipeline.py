"""The pipeline of one backup: archive items -> clean objects -> placed files, with its
figures (``Plan``), the producer's claims (``Claims``) and the refusals (``BackupRefused``).
Pure of git: ``job.GenerationJob`` feeds these files to a repository's change set, and
``plan_backup`` keeps the whole tree in memory (tests, benchmarks).
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any, Protocol, TypeVar

from backup2gitops.core import drift, errors, kube_yaml, trailers, units
from backup2gitops.core.archive import BackupItem, ReadReport
from backup2gitops.core.cleaning import (
    INDEXED_RESOURCES,
    BackupIndex,
    CleaningPolicy,
    prepare,
)
from backup2gitops.core.cleaning.gitops_owners import gitops_managed
from backup2gitops.core.repo_layout import object_file
from backup2gitops.core.repo_plan import plan_tree
from backup2gitops.core.safeguards import count_refusal
from backup2gitops.core.tree_diff import FileChange

_Content = TypeVar("_Content", bytes, bytes | None)
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
    return kube_yaml.load_mapping(previous(path) if previous is not None else None)


@dataclass
class Plan:
    """What a backup becomes in the repository: its figures, and (``plan_backup``) its files."""

    cluster: str
    files: dict[PurePosixPath, bytes] = field(default_factory=dict)
    objects: int = 0
    excluded: int = 0
    excluded_by_reason: dict[str, int] = field(default_factory=dict)
    kinds: collections.Counter[tuple[str, str]] = field(default_factory=collections.Counter)
    credentials: list[str] = field(default_factory=list)
    """Credentials committed in clear (``core.drift.credentials_in_clear``): where, never what;
    the first ``MAX_LISTED_CREDENTIALS``, ``credentials_total`` counts them all."""
    credentials_total: int = 0
    unmanaged: int = 0
    """Objects no GitOps tool manages (``gitops_owners.gitops_managed``): changed by hand."""
    unmanaged_names: list[str] = field(default_factory=list)
    """The first ``MAX_LISTED_UNMANAGED`` of them, ``Kind namespace/name``."""
    kept_foreign: int = 0
    """Files of the cluster's folder the generator does not own, kept (``core.ownership``)."""
    missing_entries: list[str] = field(default_factory=list)
    """Foreign kustomization entries pointing at nothing (``SharedFolder.missing``)."""
    missing_entries_total: int = 0
    decoded: int | None = None
    """Members decoded, cleaned and serialised by this read (the generator's member cache kept
    the others as committed); None when every item was (``plan_backup``)."""
    unchanged: bool = False
    """The backup was the committed one again: its folder stands as it is and its figures are
    the commit's, read from the member cache (``generation.unchanged``), no member one by one."""


MAX_LISTED_CREDENTIALS = 50
MAX_LISTED_UNMANAGED = 10


@dataclass(frozen=True)
class CommitResult:
    commit: str
    added: int
    changed: int
    removed: int
    noop: bool
    reason: str | None = None
    """Why a no-op made no commit when that is not "already on the branch"."""
    dry_run: bool = False
    """What the commit would be: nothing was committed or pushed (``commit``: the tip)."""
    changes: tuple[FileChange, ...] = ()
    """A dry run's changed files (``GenerationJob.diff``)."""


class BackupRefused(errors.Backup2GitopsError):
    """The backup must not become a commit (``code``: archive_empty, archive_incomplete,
    mass_deletion, out_of_order, clock_skew, unsafe_trailer). Never retryable: the same bytes
    give the same verdict."""

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


@dataclass(frozen=True)
class Outcome:
    plan: Plan
    commit: CommitResult
    duration_s: float
    compared: drift.Comparison | None = None
    """The commit made, compared with its parent from the plan (``GenerationJob.compare``);
    None for a no-op, a dry run, or a cluster's first commit (nothing to compare with)."""


@dataclass(frozen=True)
class Placement:
    """What one item became: ``excluded`` (a reason), or ``obj`` at ``file`` (cleaned,
    transformed, encrypted: ready to serialise), with what the commit message counts of it."""

    namespace: str | None
    excluded: str | None = None
    file: str | None = None
    """The object's repository path, a POSIX string (``repo_layout.object_file``)."""
    obj: Mapping[str, Any] | None = None
    kind: str = "?"
    credentials: tuple[str, ...] = ()
    unmanaged: str | None = None
    """``Kind namespace/name`` when no GitOps tool manages the object (``gitops_managed``, read
    before cleaning): changed by hand."""


def place(
    item: BackupItem,
    *,
    cluster: str,
    policy: CleaningPolicy,
    transforms: Sequence[Transform] = (),
    encrypt: Encrypt | None = None,
    previous: Previous | None = None,
    index: BackupIndex,
) -> Placement:
    """Clean one item and place it. A Secret to encrypt is given the document committed at its
    path (``previous``), which the encrypter returns as it is when the plaintext did not change.
    ``index`` is the backup's index (its StatefulSets' claim templates, its CRDs' defaults, its
    HPAs' targets)."""
    if item.refused:  # refused by the reader (too deep, a path that lies): its own reason
        return Placement(item.namespace, excluded=item.refused)
    prepared = prepare(item.obj, policy=policy, transforms=transforms, index=index)
    obj = prepared.object
    if obj is None:
        return Placement(item.namespace, excluded=prepared.excluded or "excluded")
    by_hand = not gitops_managed(item.obj)  # as backed up: prepare never changes item.obj
    file = object_file(
        cluster=cluster,
        group_resource=item.group_resource,
        namespace=item.namespace,
        name=item.name,
    )
    where = f"{item.namespace}/{item.name}" if item.namespace else item.name
    found = drift.credentials_in_clear(obj)  # the plaintext, before sops
    credentials = (
        tuple(f"{obj.get('kind', '?')} {where}: {place}" for place in sorted(found))
        if found
        else ()
    )
    if prepared.encrypt:
        if encrypt is None:  # never write a Secret in clear because no encrypter was wired
            raise ValueError("the secret policy asks for encryption but no encrypter is set")
        obj = encrypt(obj, previous=committed_document(previous, PurePosixPath(file)))
    kind = obj.get("kind", "?")
    if type(kind) is not str:
        kind = str(kind)
    unmanaged = f"{kind} {where}" if by_hand else None
    return Placement(
        item.namespace, file=file, obj=obj, kind=kind, credentials=credentials, unmanaged=unmanaged
    )


def account(
    plan: Plan,
    *,
    namespace: str | None,
    excluded: str | None,
    kind: str,
    credentials: Sequence[str],
    unmanaged: str | None = None,
) -> None:
    """Count one item in ``plan``'s figures (a placed one, or one the member cache kept)."""
    if excluded is not None:
        plan.excluded += 1
        plan.excluded_by_reason[excluded] = plan.excluded_by_reason.get(excluded, 0) + 1
        return
    if credentials:  # most objects have none: no loop to start
        plan.credentials_total += len(credentials)
        room = MAX_LISTED_CREDENTIALS - len(plan.credentials)
        if room > 0:
            plan.credentials += credentials[:room]
    plan.objects += 1
    plan.kinds[(kind, namespace or "(cluster)")] += 1
    if unmanaged is not None:
        plan.unmanaged += 1
        if len(plan.unmanaged_names) < MAX_LISTED_UNMANAGED:
            plan.unmanaged_names.append(unmanaged)


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
    """``place`` each item, counting what is kept and why the rest is excluded (``account``).
    ``progress`` is told the number of items read so far, after each one."""
    for count, item in enumerate(items, 1):
        if progress is not None:
            progress(count)
        placed = place(
            item,
            cluster=plan.cluster,
            policy=policy,
            transforms=transforms,
            encrypt=encrypt,
            previous=previous,
            index=index,
        )
        account(
            plan,
            namespace=placed.namespace,
            excluded=placed.excluded,
            kind=placed.kind,
            credentials=placed.credentials,
            unmanaged=placed.unmanaged,
        )
        if placed.file is not None and placed.obj is not None:
            yield PurePosixPath(placed.file), placed.obj


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

    ``index`` is the backup's index (``GenerationJob`` builds it while it reads the archive);
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
    clean = trailers.clean_line  # kinds and reasons come from the archive: one line each
    title = (
        f"{plan.cluster}: backup {backup_id} (+{result.added} ~{result.changed} -{result.removed})"
    )
    lines = [title, "", f"{plan.objects} objects in the repository, {plan.excluded} excluded."]
    if plan.kinds:
        lines += ["", "Objects by kind and namespace:"]
        for (kind, namespace), count in sorted(plan.kinds.items()):
            lines.append(f"  {clean(kind)} in {clean(namespace)}: {count}")
    if plan.unmanaged:
        lines += ["", f"Not managed by any GitOps tool ({plan.unmanaged}; changed by hand):"]
        lines += [f"  {clean(name)}" for name in plan.unmanaged_names]
        if plan.unmanaged > len(plan.unmanaged_names):
            lines.append(f"  ... and {plan.unmanaged - len(plan.unmanaged_names)} more")
    if plan.kept_foreign:
        lines += ["", f"Kept, not written by backup2gitops: {plan.kept_foreign} files"]
    if plan.missing_entries_total:
        lines += ["", f"Kustomization entries pointing at nothing ({plan.missing_entries_total}):"]
        lines += [f"  {clean(entry)}" for entry in plan.missing_entries]
    if plan.excluded_by_reason:
        lines += ["", "Excluded:"]
        for reason, count in sorted(plan.excluded_by_reason.items()):
            lines.append(f"  {clean(reason)}: {count}")
    if plan.credentials_total:
        lines += ["", f"Credentials in clear ({plan.credentials_total}; put them in Secrets):"]
        lines += [f"  {clean(place)}" for place in plan.credentials]
        if plan.credentials_total > len(plan.credentials):
            lines.append(f"  ... and {plan.credentials_total - len(plan.credentials)} more")
    return "\n".join(lines)


def guarded_tree(
    files: Iterable[tuple[str, _Content]], *, report: ReadReport, claims: Claims
) -> Iterator[tuple[str, _Content]]:
    """``files``, then the item count check: the change set has the new files but nothing has
    been removed yet when an empty or gutted archive is refused."""
    yield from files
    check_count(report, claims)


def check_count(report: ReadReport, claims: Claims) -> None:
    """Refuse an archive holding fewer items than its producer claims (or none at all)."""
    refusal = count_refusal(read=report.items, claimed=claims.items)
    if refusal:
        code = "archive_empty" if report.items == 0 else "archive_incomplete"
        raise BackupRefused(code, refusal)
