"""One attempt of the publish loop (``generation.job``): the commit one backup makes on the
tip, not pushed.

    the tip's folder --(a lost race, and the folder did not move)--> the same tree, re-applied
       \\--> else: the archive read (``GenerationJob.read``) --(the committed backup again:
           ``generation.unchanged``)--> the folder as it is, the figures from the cache
           \\--> else: the decode branch (``generation.decoding``): the backup's files --(drift's
               comparison, the dry run's diff)--> ``ChangeSet.sync`` --(the deletion guard)
       --> (+ ``.sops.yaml``) the message and its trailers --> the commit (or the no-op, or the
           dry run's answer)
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, NamedTuple

from backup2gitops.adapters.git import Seal, Tip
from backup2gitops.core import trailers
from backup2gitops.core.drift import Comparison
from backup2gitops.generation.plan import (
    BackupRefused,
    CommitResult,
    Plan,
    check_count,
    commit_message,
)
from backup2gitops.generation.reading import Reading

if TYPE_CHECKING:
    from backup2gitops.core.tree_diff import FileChange
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
    # a cluster's first commit is its baseline: nothing to compare with
    compare = job.compare and not job.dry_run and folder.tree is not None and bool(tip.commit)
    with (
        tip.change(job.root) as change,
        job.read(
            reading,
            change.committed,
            folder,
            change.committed_files,
            unsealed=lambda path: tip.unsealed(job.root, path),
        ) as members,
    ):
        unchanged = members.unchanged()
        seal: Seal | None = None
        if unchanged:  # the committed folder is this backup's: nothing to stream
            check_count(reading.report, job.claims)
            changes: list[FileChange] = []
            compared = Comparison(commit="", previous="", changes=[], roles={}) if compare else None
        else:
            # The decode branch, and what it needs (cleaning's rules, PyYAML, the folder's plan,
            # drift's comparison), imported here, where it starts: an unchanged backup never
            # imports them (tests/functional/test_unchanged_imports.py).
            from backup2gitops.generation import decoding

            changes, compared = decoding.stream(job, change, folder, members, compare=compare)
            seal = decoding.seal(job, members)
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


def _reseals(seal: Seal | None, tip: Tip, job: GenerationJob) -> bool:
    """Whether ``seal`` would write another header than the tip's, when no other file
    changed: the folder without it is then the tip's, so is its id."""
    if seal is None:
        return False
    return seal.make(tip.unsealed(job.root, seal.path)) != tip.file(PurePosixPath(seal.path))


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


def _shared_updates(job: GenerationJob) -> dict[PurePosixPath, Callable[[bytes | None], bytes]]:
    """The repository-wide files the cluster has a part in (``.sops.yaml``): path -> update."""
    assert job.encrypt is not None
    # imported here: only a cluster whose Secrets are encrypted has a part in .sops.yaml (and
    # needs PyYAML to write it); its encrypter (``adapters.sops``) imported them already
    from backup2gitops.core import sops_files

    return {
        sops_files.SOPS_CONFIG: functools.partial(
            sops_files.sops_config, cluster=job.cluster, recipients=job.encrypt.recipient_list
        )
    }


class Made(NamedTuple):
    """A commit made on the tip (or the no-op it became), and what re-applies it."""

    result: CommitResult
    base: str | None = None
    tree: str | None = None
    message: str = ""
    compared: Comparison | None = None

    @property
    def noop(self) -> bool:
        return self.result.noop
