"""The health-aggregator's reads of the remote without a clone: ``ls-remote``, the newest
backup commit per cluster, and the whole backup history (for the flow metrics), each from a
bare cache repository fetched under a lock; its log read by ``adapters.git.history``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

from backup2gitops.adapters.git.credentials import credential_env, display_url, redact
from backup2gitops.adapters.git.errors import GitError
from backup2gitops.adapters.git.history import read_log
from backup2gitops.adapters.git.process import GitRunner
from backup2gitops.core.flow_metrics import CommitFact
from backup2gitops.core.health import CommitMark


def _runner(url: str, timeout_s: float, secret: str | None) -> GitRunner:
    return GitRunner(
        where=display_url(redact(url, secret)),
        timeout_s=timeout_s,
        env=credential_env(secret),
        secret=secret,
    )


def ls_remote(url: str, *, branch: str, timeout_s: float, secret: str | None = None) -> str:
    """The branch's head commit; ``GitError`` when unreachable or the branch is missing."""
    runner = _runner(url, timeout_s, secret)
    out = runner.text("ls-remote", "--heads", url, f"refs/heads/{branch}")
    if not out.strip():
        raise GitError(
            "git_unavailable", f"branch {branch} not found on the remote", retryable=True
        )
    return out.split()[0]


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.mkdir(parents=True, exist_ok=True)
    with (path / ".health.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # threads and processes sharing the cache
        yield


def cache_dir_for(url: str, base: Path | None, *, kind: str = "health") -> Path:
    """The bare cache of ``url``: ``health`` (shallow, the newest trailers) or ``history`` (the
    whole branch, for the flow metrics; kept apart so neither fetch undoes the other's depth)."""
    digest = hashlib.sha256(redact(url).encode()).hexdigest()[:16]
    return (base or Path(tempfile.gettempdir()) / "backup2gitops") / f"{kind}-{digest}.git"


def _fetched(
    runner: GitRunner, url: str, *, branch: str, cache_dir: Path, depth: int | None
) -> str:
    if not (cache_dir / "HEAD").exists():
        runner.run("init", "--bare", "-q", str(cache_dir))
    ref = f"refs/remotes/origin/{branch}"
    shallow = [f"--depth={depth}"] if depth is not None else []
    runner.run(
        "fetch", "-q", "--no-tags", *shallow, url, f"+refs/heads/{branch}:{ref}", git_dir=cache_dir
    )
    return ref


def newest_backup_commits(
    url: str,
    *,
    branch: str,
    depth: int,
    timeout_s: float,
    cache_dir: Path,
    secret: str | None = None,
) -> dict[str, CommitMark]:
    """Per cluster (``Cluster`` trailer), the newest commit of one backup, among the last
    ``depth`` commits of ``branch``."""
    runner = _runner(url, timeout_s, secret)
    with _locked(cache_dir):
        ref = _fetched(runner, url, branch=branch, cache_dir=cache_dir, depth=depth)
        logged = read_log(runner, git_dir=cache_dir, ref=ref, max_count=depth)
    marks: dict[str, CommitMark] = {}
    for commit in logged:
        if commit.backup is None or commit.backup.cluster in marks:
            continue
        marks[commit.backup.cluster] = CommitMark(
            cluster=commit.backup.cluster,
            backup_id=commit.backup.backup_id,
            commit=commit.commit,
            committed_at=commit.committed_at,
        )
    return marks


def backup_commit_history(
    url: str,
    *,
    branch: str,
    timeout_s: float,
    cache_dir: Path,
    secret: str | None = None,
) -> list[CommitFact]:
    """Every commit of ``branch`` standing for one backup, newest first.

    The whole history is fetched into a bare cache (``cache_dir``, flock-guarded): the first
    fetch of a new instance takes it all, later ones only what is new. A commit is ``changed``
    when its tree differs from its first parent's (an empty commit records an unchanged backup).
    A remote without the branch yet has no history (``[]``); an unreachable one raises.
    """
    runner = _runner(url, timeout_s, secret)
    with _locked(cache_dir):
        try:
            ref = _fetched(runner, url, branch=branch, cache_dir=cache_dir, depth=None)
        except GitError as exc:
            if "couldn't find remote ref" in exc.message:
                return []  # a remote nothing was pushed to yet: no history, not an outage
            raise
        logged = read_log(runner, git_dir=cache_dir, ref=ref)
    trees = {c.commit: c.tree for c in logged}
    return [
        CommitFact(
            commit=c.commit,
            cluster=c.backup.cluster,
            backup_id=c.backup.backup_id,
            committed_at=c.committed_at,
            backup_created_at=c.backup.created_at,
            changed=not c.parents or trees.get(c.parents[0]) != c.tree,
        )
        for c in logged
        if c.backup is not None
    ]
