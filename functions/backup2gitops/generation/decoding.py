"""The decode branch of one attempt (``generation.attempt``): the backup is not the committed
one again, so the members the member cache cannot keep are decoded, cleaned, placed and
serialised (``generation.pipeline``), the folder is planned (``core.repo_plan``, the foreign
files kept: ``core.ownership``) and its files streamed into the change set, through the count
and deletion guards, drift's comparison and the dry run's diff on the way.

    members (``generation.reading``) --(``decoder``: place + kube_yaml)--> files --(the
      kustomizations, the entry points, the foreign files: ``files``)--> the cache's files
      --(``stream``)--> ``ChangeSet.sync`` --(the deletion guard)

This module imports all of that; ``attempt.commit_on`` and ``GenerationJob.run`` (the figures
of a no-op) import it where the branch starts, so an unchanged backup, or one already on the
branch, imports none of it (``tests/functional/test_unchanged_imports.py``).
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from backup2gitops.core import kube_yaml, ownership, tree_diff, units
from backup2gitops.core.drift import Comparison, TipComparison
from backup2gitops.core.repo_plan import iter_files
from backup2gitops.core.safeguards import DeletionGuard
from backup2gitops.generation.pipeline import Placement, place
from backup2gitops.generation.plan import BackupRefused, Claims, Plan, guarded_tree
from backup2gitops.generation.reading import Decode, MemberPass, Reading
from backup2gitops.generation.unchanged import Figures

if TYPE_CHECKING:
    from backup2gitops.adapters.git import ChangeSet, Folder, Seal
    from backup2gitops.core.archive import BackupItem, ReadReport
    from backup2gitops.generation.job import GenerationJob


def decoder(members: MemberPass) -> Decode:
    """One member of ``members`` decoded, cleaned and placed with its settings and the
    backup's index, and its object serialised (None: excluded)."""
    cluster = members.reading.plan.cluster

    def decode(item: BackupItem) -> tuple[Placement, bytes | None]:
        placed = place(
            item,
            cluster=cluster,
            policy=members.policy,
            transforms=members.transforms,
            encrypt=members.encrypt,
            previous=members.previous,
            index=members.index,
        )
        if placed.file is None or placed.obj is None:
            return placed, None
        return placed, kube_yaml.dump(placed.obj).encode()

    return decode


def files(
    job: GenerationJob, members: MemberPass, shared: ownership.SharedFolder | None = None
) -> Iterator[tuple[str, bytes | None]]:
    """The backup's files (only the members that changed decoded: ``generation.reading``),
    then the count check, then the member cache's records (its header is the commit's
    ``seal``, written last: it says what the folder now is)."""
    reading = members.reading
    made = iter_files(
        cluster=job.cluster, files=members.files(decoder(members)), layout=job.layout, shared=shared
    )
    yield from guarded_tree(made, report=reading.report, claims=job.claims)
    if shared is not None:
        _report_shared(reading.plan, shared)
    if job.member_cache and members.cache is not None:
        yield from members.cache_files()


def seal(job: GenerationJob, members: MemberPass) -> Seal | None:
    """The member cache's header, once ``files`` is done (None: no cache kept)."""
    if not job.member_cache or members.cache is None:
        return None
    reading = members.reading
    return members.seal(Figures.of(reading.plan, reading.report).to_json())


def figures(job: GenerationJob) -> Reading:
    """The figures of ``job``'s backup, every member decoded, nothing committed (a no-op's:
    ``GenerationJob.plan_noop``)."""
    reading = Reading(Plan(cluster=job.cluster))
    with job.read(reading, None, None) as members:
        for _ in files(job, members):
            pass
    return reading


def stream(
    job: GenerationJob,
    change: ChangeSet,
    folder: Folder,
    members: MemberPass,
    *,
    compare: bool,
) -> tuple[list[tree_diff.FileChange], Comparison | None]:
    """Stream the backup's files into ``change`` (the foreign files kept), guard the
    deletions; the dry run's diff, and (``compare``) the commit compared with the tip."""
    comparison = TipComparison(root=job.root.as_posix(), tracked=folder.files) if compare else None
    if comparison is not None:
        members.written = comparison.placed
    shared = ownership.SharedFolder(
        root=job.root.as_posix(),
        tracked=folder.files,
        read=lambda path: change.committed(PurePosixPath(path)),
        read_many=change.committed_files,
    )
    made = files(job, members, shared=shared)
    if comparison is not None:
        made = comparison.seen(made)
    recorder = tree_diff.DiffRecorder(tracked=folder.files, read=shared.read)
    if job.dry_run and job.diff:
        made = recorder.record(made)
    sealed = frozenset({members.cache_path} if job.member_cache else ())
    change.sync(made, keep=_Kept(shared.foreign, sealed))
    before = objects_in(folder.files, job.root.as_posix(), shared.foreign)
    _check_deletions(job.claims, before, change.removed, members.reading.report)
    changes = recorder.finish(keep=shared.foreign) if job.dry_run and job.diff else []
    return changes, _compared(comparison, change, keep=shared.foreign, cluster=job.cluster)


@dataclass(frozen=True)
class _Kept(Collection[str]):
    """What the sync keeps of the tracked files: the foreign ones, as the stream finds them
    (read once it has ended), and the member cache's header, which the commit writes again,
    last (``Seal``)."""

    foreign: Collection[str]
    sealed: frozenset[str]

    def __contains__(self, path: object) -> bool:
        return path in self.sealed or path in self.foreign

    def __iter__(self) -> Iterator[str]:
        return itertools.chain(self.foreign, self.sealed)

    def __len__(self) -> int:
        return len(self.foreign) + len(self.sealed)


def _compared(
    comparison: TipComparison | None,
    change: ChangeSet,
    *,
    keep: Collection[str],
    cluster: str,
) -> Comparison | None:
    """The commit about to be made, against the tip (ids filled in once it is made): the
    changed and removed objects' committed files read from the tip in one batch."""
    if comparison is None:
        return None
    changes, roles = comparison.finish(read=change.committed_files, keep=keep, cluster=cluster)
    return Comparison(commit="", previous="", changes=changes, roles=roles)


def _report_shared(plan: Plan, shared: ownership.SharedFolder) -> None:
    """What the backup kept of the files it does not own, for the commit message and reply."""
    plan.kept_foreign = len(shared.foreign)
    plan.missing_entries = list(shared.missing)
    plan.missing_entries_total = shared.missing_total


def objects_in(files: Collection[str], root: str, foreign: Collection[str]) -> int:
    """How many of the cluster's folder's ``files`` (below ``root``, ``clusters/<cluster>``)
    are objects (``units.is_generated`` says no) the generator owns (not in ``foreign``): the
    generated ones are the kustomizations and the files of ``units.GENERATED_FOLDERS``, known
    by their name's end and their folder's start (``str.endswith``, ``str.startswith``), not
    by a split of each path."""
    if not root.startswith("clusters/") or root.count("/") != 1:  # not a cluster's folder
        return sum(1 for path in files if not units.is_generated(path) and path not in foreign)
    kustomization = f"/{units.KUSTOMIZATION}"
    folders = tuple(f"{root}/{folder}/" for folder in sorted(units.GENERATED_FOLDERS))
    return sum(
        1
        for path in files
        if not path.endswith(kustomization) and not path.startswith(folders) and path not in foreign
    )


def _check_deletions(claims: Claims, before: int, removed: int, report: ReadReport) -> None:
    """Refuse a commit removing more than the allowed share, unless both counts confirm it."""
    rule = DeletionGuard(max_share=claims.max_deletion_share)
    confirmed = claims.complete and claims.items is not None and report.items >= claims.items
    refusal = rule.refusal(before=before, removed=removed, confirmed_complete=confirmed)
    if refusal:
        raise BackupRefused("mass_deletion", refusal)
