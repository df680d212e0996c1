"""One attempt of the publish loop (``generation.job``): the commit one backup makes on the
tip, not pushed.

    the tip's folder --(a lost race, and the folder did not move)--> the same tree, re-applied
       \\--> else: the archive read (``GenerationJob.read``) --(the committed backup again:
           ``generation.unchanged``)--> the folder as it is, the figures from the cache
           \\--> else: the backup's files (``GenerationJob.files``) --(drift's comparison, the
               dry run's diff)--> ``ChangeSet.sync`` --(the deletion guard)
       --> (+ ``.sops.yaml``) the message and its trailers --> the commit (or the no-op, or the
           dry run's answer)
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from backup2gitops.adapters.git import ChangeSet, Folder, Seal, Tip
from backup2gitops.core import drift, ownership, sops_files, trailers, tree_diff, units
from backup2gitops.core.archive import ReadReport
from backup2gitops.core.safeguards import DeletionGuard
from backup2gitops.generation.pipeline import (
    BackupRefused,
    Claims,
    CommitResult,
    Plan,
    check_count,
    commit_message,
)
from backup2gitops.generation.reading import MemberPass, Reading

if TYPE_CHECKING:
    from backup2gitops.generation.job import GenerationJob


def commit_on(
    job: GenerationJob, tip: Tip, redo: Made | None, reading: Reading | None
) -> tuple[Made, Reading | None]:
    """The commit on ``tip`` (not pushed): the re-applied folder of a lost race when the
    cluster's folder did not move, else the archive streamed again through the guards."""
    folder = tip.folder(job.root)
    if (
        redo is not None
        and tip.commit is not None
        and folder.tree == redo.base
        and job.encrypt is None  # .sops.yaml is shared: with it, the files are read again
    ):
        parent = tip.commit
        commit = tip.reapply(job.root, tree=redo.tree, message=redo.message)
        result = dataclasses.replace(redo.result, commit=commit)
        compared = (  # the folder's trees are the same on both sides: so are its changes
            dataclasses.replace(redo.compared, commit=commit, previous=parent or "")
            if redo.compared is not None
            else None
        )
        return Made(result, redo.base, redo.tree, redo.message, compared), reading
    reading = Reading(Plan(cluster=job.cluster))
    comparison = (
        drift.TipComparison(root=job.root.as_posix(), tracked=folder.files)
        if job.compare and not job.dry_run and folder.tree is not None and tip.commit
        else None  # a cluster's first commit is its baseline: nothing to compare with
    )
    written = comparison.placed if comparison is not None else None
    with (
        tip.change(job.root) as change,
        job.read(
            reading,
            change.committed,
            folder,
            written,
            change.committed_files,
            unsealed=lambda path: tip.unsealed(job.root, path),
        ) as members,
    ):
        unchanged = members.unchanged()
        seal = None
        if unchanged:  # the committed folder is this backup's: nothing to stream
            check_count(reading.report, job.claims)
            changes: list[tree_diff.FileChange] = []
            compared = (
                drift.Comparison(commit="", previous="", changes=[], roles={})
                if comparison is not None
                else None
            )
        else:
            changes, compared = _stream(job, change, folder, members, comparison)
            seal = job.seal(members)
        if job.encrypt is not None:  # fixed names, never from a backup
            for path, update in _shared_updates(job).items():
                current = tip.file(path)
                content = update(current)
                if content != current:
                    change.put(path, content)
        result = CommitResult("", change.added, change.changed, change.removed, noop=False)
        if not change.written and not job.record_unchanged and not _reseals(seal, tip, job):
            return Made(CommitResult(tip.commit or "", 0, 0, 0, noop=True)), reading
        message = _message(job, reading.plan, result)
        if job.dry_run:
            would = dataclasses.replace(
                result, commit=tip.commit or "", dry_run=True, changes=tuple(changes)
            )
            return Made(would, message=message), reading
        parent = tip.commit or ""
        commit = change.commit(message, seal=seal)
    # the folder's tree id alone (no listing of every file); an unchanged one is the tip's
    made_tree = folder.tree if unchanged else tip.tree(job.root, commit)
    if compared is not None:
        compared = dataclasses.replace(compared, commit=commit, previous=parent)
    return Made(
        dataclasses.replace(result, commit=commit), folder.tree, made_tree, message, compared
    ), reading


def _stream(
    job: GenerationJob,
    change: ChangeSet,
    folder: Folder,
    members: MemberPass,
    comparison: drift.TipComparison | None,
) -> tuple[list[tree_diff.FileChange], drift.Comparison | None]:
    """Stream the backup's files into ``change`` (the foreign files kept), guard the
    deletions; the dry run's diff, and the commit compared with the tip."""
    shared = ownership.SharedFolder(
        root=job.root.as_posix(),
        tracked=folder.files,
        read=lambda path: change.committed(PurePosixPath(path)),
        read_many=change.committed_files,
    )
    files = job.files(members, shared=shared)
    if comparison is not None:
        files = comparison.seen(files)
    recorder = tree_diff.DiffRecorder(tracked=folder.files, read=shared.read)
    if job.dry_run and job.diff:
        files = recorder.record(files)
    sealed = frozenset({members.cache_path} if job.member_cache else ())
    change.sync(files, keep=_Kept(shared.foreign, sealed))
    before = sum(
        1 for path in folder.files if not units.is_generated(path) and path not in shared.foreign
    )
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


def _reseals(seal: Seal | None, tip: Tip, job: GenerationJob) -> bool:
    """Whether ``seal`` would write another header than the tip's, when no other file
    changed: the folder without it is then the tip's, so is its id."""
    if seal is None:
        return False
    return seal.make(tip.unsealed(job.root, seal.path)) != tip.file(PurePosixPath(seal.path))


def _compared(
    comparison: drift.TipComparison | None,
    change: ChangeSet,
    *,
    keep: Collection[str],
    cluster: str,
) -> drift.Comparison | None:
    """The commit about to be made, against the tip (ids filled in once it is made): the
    changed and removed objects' committed files read from the tip in one batch."""
    if comparison is None:
        return None
    changes, roles = comparison.finish(read=change.committed_files, keep=keep, cluster=cluster)
    return drift.Comparison(commit="", previous="", changes=changes, roles=roles)


def _message(job: GenerationJob, plan: Plan, result: CommitResult) -> str:
    """The commit message: the figures, then the trailers the guards read back."""
    try:
        return trailers.with_trailers(
            commit_message(plan=plan, backup_id=job.backup_id, result=result),
            trailers.backup_message_trailers(
                backup_id=job.backup_id,
                cluster=job.cluster,
                created_at=job.claims.created_at,
            ),
        )
    except trailers.UnsafeTrailer as exc:
        raise BackupRefused("unsafe_trailer", str(exc)) from exc


def _check_deletions(claims: Claims, before: int, removed: int, report: ReadReport) -> None:
    """Refuse a commit removing more than the allowed share, unless both counts confirm it."""
    rule = DeletionGuard(max_share=claims.max_deletion_share)
    confirmed = claims.complete and claims.items is not None and report.items >= claims.items
    refusal = rule.refusal(before=before, removed=removed, confirmed_complete=confirmed)
    if refusal:
        raise BackupRefused("mass_deletion", refusal)


def _shared_updates(job: GenerationJob) -> dict[PurePosixPath, Callable[[bytes | None], bytes]]:
    """The repository-wide files the cluster has a part in (``.sops.yaml``): path -> update."""
    assert job.encrypt is not None
    return {
        sops_files.SOPS_CONFIG: functools.partial(
            sops_files.sops_config, cluster=job.cluster, recipients=job.encrypt.recipient_list
        )
    }


@dataclass(frozen=True)
class Made:
    """A commit made on the tip (or the no-op it became), and what re-applies it."""

    result: CommitResult
    base: str | None = None
    tree: str | None = None
    message: str = ""
    compared: drift.Comparison | None = None

    @property
    def noop(self) -> bool:
        return self.result.noop
