"""Reading a git remote without a working tree: ``ls-remote``, and the newest ``Backup-Id``
trailer per cluster from a bounded shallow fetch into a bare cache repository.

Credentials (``git.token``) reach git as an ``http.extraHeader`` in the child's environment
(``credential_env``, shared with ``adapters.gitrepo``): never in a URL, a command line or a config
file. Every message this module produces still goes through ``redact``.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import os
import re
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from backup2gitops.config import GitConfig
from backup2gitops.core import errors
from backup2gitops.core.flow_metrics import CommitFact
from backup2gitops.core.health import CommitMark
from backup2gitops.core.safeguards import CREATED_AT_TRAILER, parse_created_at

_USERINFO = re.compile(r"(://)[^/@\s]+@")
_FIELD, _RECORD = "\x1f", "\x1e"


class GitRemoteError(errors.Backup2GitopsError):
    """The remote could not be read; the message holds no credentials."""

    code = "git_unavailable"
    permanent = False


def redact(text: str, *secrets: str | None) -> str:
    text = _USERINFO.sub(r"\1***@", text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
            text = text.replace(quote(secret, safe=""), "***")
    return text


def git_cause(stderr: str) -> str:
    """git's reason, on one line: its first ``fatal:``/``error:`` line (the last line is often
    advice, "and the repository exists."), without the prefix; else its last line."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    fatal = [line for line in lines if line.startswith(("fatal: ", "error: "))]
    chosen = fatal[0] if fatal else (lines[-1] if lines else "")
    return redact(chosen.removeprefix("fatal: ").removeprefix("error: "))[:300]


def credential_env(token: str | None, user: str = "x-access-token") -> dict[str, str]:
    """Environment for a git child process: no prompts, and the token (if any) as an HTTP
    Authorization header, so it never appears in a URL, a command line or ``.git/config``."""
    env = {"GIT_TERMINAL_PROMPT": "0"}
    if token:
        basic = base64.b64encode(f"{user}:{token}".encode()).decode()
        env.update(
            GIT_CONFIG_COUNT="1",
            GIT_CONFIG_KEY_0="http.extraHeader",
            GIT_CONFIG_VALUE_0=f"Authorization: Basic {basic}",
        )
    return env


def split_credentials(url: str) -> tuple[str, str | None, str | None]:
    """An http(s) URL without its userinfo, and what the userinfo held: (url, user, secret).

    ``https://user:TOKEN@host/r.git`` -> user and TOKEN; ``https://TOKEN@host/r.git`` (the
    token-as-user form GitHub and GitLab accept) -> no user, TOKEN. The secret then travels as
    an Authorization header (``credential_env``), never in ``.git/config`` or a command line.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or "@" not in parts.netloc:
        return url, None, None
    userinfo, host = parts.netloc.rsplit("@", 1)
    user, colon, password = userinfo.partition(":")
    clean = urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
    if colon:
        return clean, unquote(user) or None, unquote(password) or None
    return clean, None, unquote(user) or None


def remote_access(config: GitConfig, environ: Mapping[str, str]) -> tuple[str, str | None]:
    """The remote's URL and its token (for ``secret=``: sent as a header, redacted from text).
    A token written into ``git.url`` is taken out of it (``split_credentials``)."""
    url, _, embedded = split_credentials(config.url)
    return url, config.token.reveal(environ) or embedded


def _git(args: list[str], *, timeout_s: float, secret: str | None, cwd: Path | None = None) -> str:
    env = {**os.environ, "GIT_ASKPASS": "true", "LC_ALL": "C", **credential_env(secret)}
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise GitRemoteError(f"git {args[0]} timed out after {timeout_s}s") from exc
    if done.returncode != 0:
        raise GitRemoteError(redact(f"git {args[0]}: {git_cause(done.stderr) or 'failed'}", secret))
    return done.stdout


def ls_remote(url: str, *, branch: str, timeout_s: float, secret: str | None = None) -> str:
    """The branch's head commit; ``GitRemoteError`` when unreachable or the branch is missing."""
    out = _git(
        ["ls-remote", "--heads", url, f"refs/heads/{branch}"], timeout_s=timeout_s, secret=secret
    )
    if not out.strip():
        raise GitRemoteError(f"branch {branch} not found on the remote")
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


def newest_backup_commits(
    url: str,
    *,
    branch: str,
    depth: int,
    timeout_s: float,
    cache_dir: Path,
    secret: str | None = None,
) -> dict[str, CommitMark]:
    """Per cluster (``Cluster:`` trailer), the newest commit with a ``Backup-Id:`` trailer,
    among the last ``depth`` commits of ``branch``."""
    ref = f"refs/remotes/origin/{branch}"
    with _locked(cache_dir):
        if not (cache_dir / "HEAD").exists():
            _git(["init", "--bare", "-q", str(cache_dir)], timeout_s=timeout_s, secret=secret)
        _git(
            ["fetch", "-q", "--no-tags", f"--depth={depth}", url, f"+refs/heads/{branch}:{ref}"],
            cwd=cache_dir,
            timeout_s=timeout_s,
            secret=secret,
        )
        fmt = _FIELD.join(
            (
                "%H",
                "%ct",
                "%(trailers:key=Backup-Id,valueonly,separator=%x2C)",
                "%(trailers:key=Cluster,valueonly,separator=%x2C)",
            )
        )
        out = _git(
            ["log", f"-n{depth}", f"--format={fmt}{_RECORD}", ref],
            cwd=cache_dir,
            timeout_s=timeout_s,
            secret=secret,
        )
    marks: dict[str, CommitMark] = {}
    for record in out.split(_RECORD):
        fields = record.strip("\n").split(_FIELD)
        if len(fields) != 4:
            continue
        commit, when, backup_id, cluster = (f.strip() for f in fields)
        if not backup_id or not cluster or cluster in marks:
            continue
        marks[cluster] = CommitMark(
            cluster=cluster,
            backup_id=backup_id.split(",")[0],
            commit=commit,
            committed_at=datetime.fromtimestamp(int(when), UTC),
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
    """Every commit of ``branch`` with ``Backup-Id`` and ``Cluster`` trailers, newest first.

    The whole history is fetched into a bare cache (``cache_dir``, flock-guarded): the first
    fetch of a new instance takes it all, later ones only what is new. A commit is ``changed``
    when its tree differs from its first parent's (an empty commit records an unchanged backup).
    A remote without the branch yet has no history (``[]``); an unreachable one raises.
    """
    ref = f"refs/remotes/origin/{branch}"
    fields = ("Backup-Id", "Cluster", CREATED_AT_TRAILER)
    trailers = _FIELD.join(f"%(trailers:key={k},valueonly,separator=%x2C)" for k in fields)
    with _locked(cache_dir):
        if not (cache_dir / "HEAD").exists():
            _git(["init", "--bare", "-q", str(cache_dir)], timeout_s=timeout_s, secret=secret)
        try:
            _git(
                ["fetch", "-q", "--no-tags", url, f"+refs/heads/{branch}:{ref}"],
                cwd=cache_dir,
                timeout_s=timeout_s,
                secret=secret,
            )
        except GitRemoteError as exc:
            if "couldn't find remote ref" in str(exc):
                return []  # a remote nothing was pushed to yet: no history, not an outage
            raise
        out = _git(
            ["log", f"--format=%H{_FIELD}%T{_FIELD}%P{_FIELD}%ct{_FIELD}{trailers}{_RECORD}", ref],
            cwd=cache_dir,
            timeout_s=timeout_s,
            secret=secret,
        )
    rows = [r.strip("\n").split(_FIELD) for r in out.split(_RECORD)]
    rows = [[f.strip() for f in r] for r in rows if len(r) == 7]
    trees = {r[0]: r[1] for r in rows}
    facts: list[CommitFact] = []
    for commit, tree, parents, when, backup_id, cluster, created in rows:
        if not backup_id or not cluster:
            continue
        first_parent = parents.split()[0] if parents else None
        facts.append(
            CommitFact(
                commit=commit,
                cluster=cluster.split(",")[0],
                backup_id=backup_id.split(",")[0],
                committed_at=datetime.fromtimestamp(int(when), UTC),
                backup_created_at=parse_created_at(created.split(",")[0]) if created else None,
                changed=first_parent is None or trees.get(first_parent) != tree,
            )
        )
    return facts
