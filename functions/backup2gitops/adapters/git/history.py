"""Reading a branch's history: every ``git log`` here reads the commits with their trailers
(``%(trailers:only,unfold)``) and parses them with ``core.trailers`` -- never ``--grep``, never
a substring. The health-aggregator's reads of a remote without a clone are
``adapters.git.remote_reads``'s.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

from backup2gitops.adapters.git.process import GitRunner
from backup2gitops.adapters.git.repository import BackupCommit
from backup2gitops.core import trailers

_FIELD, _RECORD = "\x1f", "\x1e"
_FORMAT = f"--format=%H{_FIELD}%T{_FIELD}%P{_FIELD}%ct{_FIELD}%(trailers:only,unfold){_RECORD}"


class LoggedCommit(NamedTuple):
    commit: str
    tree: str
    parents: tuple[str, ...]
    committed_at: datetime
    backup: trailers.BackupTrailers | None
    """What its trailers say (None: not the commit of one backup)."""


def read_log(
    runner: GitRunner,
    *,
    git_dir: Path,
    ref: str,
    max_count: int | None = None,
    missing_ok: bool = False,
) -> list[LoggedCommit]:
    """The commits of ``ref``, newest first, with their trailers parsed (``missing_ok``: none
    when ``ref`` does not exist, rather than a failure)."""
    limit = [f"-n{max_count}"] if max_count is not None else []
    limit += ["--ignore-missing"] if missing_ok else []
    out = runner.text("log", *limit, _FORMAT, ref, "--", git_dir=git_dir)
    logged: list[LoggedCommit] = []
    for record in out.split(_RECORD):
        fields = record.strip("\n").split(_FIELD)
        if len(fields) != 5:
            continue
        commit, tree, parents, when, block = fields
        logged.append(
            LoggedCommit(
                commit=commit.strip(),
                tree=tree,
                parents=tuple(parents.split()),
                committed_at=datetime.fromtimestamp(int(when), UTC),
                backup=trailers.backup_trailers(trailers.parse_block(block)),
            )
        )
    return logged


def backup_commits(logged: list[LoggedCommit]) -> list[BackupCommit]:
    return [BackupCommit(c.commit, c.backup) for c in logged if c.backup is not None]
