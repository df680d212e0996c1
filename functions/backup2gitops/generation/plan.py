"""What one backup becomes, in figures (``Plan``), the producer's claims about it
(``Claims``), the commit it makes (``CommitResult``, ``Outcome``) and the refusals
(``BackupRefused``, the count check); the commit message. What both a decoded backup and an
unchanged one (``generation.unchanged``) count and say: decoding, cleaning and placing the
objects is ``generation.pipeline``'s.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from backup2gitops.core import errors, trailers
from backup2gitops.core.archive import ReadReport
from backup2gitops.core.safeguards import count_refusal

if TYPE_CHECKING:
    from datetime import datetime

    from backup2gitops.core import drift
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
    account_alike(plan, {(namespace, excluded, kind): 1})
    if excluded is None:
        if credentials:  # most objects have none: no loop to start
            list_credentials(plan, (credentials,))
        if unmanaged is not None:
            list_unmanaged(plan, 1, (unmanaged,))


def account_alike(plan: Plan, alike: Mapping[tuple[str | None, str | None, str], int]) -> None:
    """Count items in ``plan``'s objects, kinds and exclusions: how many of each namespace,
    exclusion (None: written) and kind, in the order first met (the order ``kinds`` and
    ``excluded_by_reason`` keep). Their credentials and whether they are changed by hand are
    each item's own (``list_credentials``, ``list_unmanaged``)."""
    kinds, by_reason = plan.kinds, plan.excluded_by_reason
    for (namespace, excluded, kind), count in alike.items():
        if excluded is not None:
            plan.excluded += count
            by_reason[excluded] = by_reason.get(excluded, 0) + count
        else:
            plan.objects += count
            kinds[(kind, namespace or "(cluster)")] += count


def list_credentials(plan: Plan, found: Iterable[Sequence[str]]) -> None:
    """Count the credentials in clear of written items (``found``: each item's, in order),
    listing the first ``MAX_LISTED_CREDENTIALS``."""
    for credentials in found:
        plan.credentials_total += len(credentials)
        room = MAX_LISTED_CREDENTIALS - len(plan.credentials)
        if room > 0:
            plan.credentials += credentials[:room]


def list_unmanaged(plan: Plan, count: int, names: Iterable[str]) -> None:
    """Count ``count`` written items no GitOps tool manages, listing the first
    ``MAX_LISTED_UNMANAGED`` of ``names`` (theirs, in order: read only as far as listed)."""
    plan.unmanaged += count
    listed = plan.unmanaged_names
    for name in names:
        if len(listed) >= MAX_LISTED_UNMANAGED:
            break
        listed.append(name)


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
        lines += _listed(plan.unmanaged_names, plan.unmanaged)
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
        lines += _listed(plan.credentials, plan.credentials_total)
    return "\n".join(lines)


def _listed(names: Sequence[str], total: int) -> list[str]:
    """The message's lines for the first ``names`` of ``total``, and how many more there are."""
    lines = [f"  {trailers.clean_line(name)}" for name in names]
    if total > len(names):
        lines.append(f"  ... and {total - len(names)} more")
    return lines


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
