"""``GitRemote``: a remote branch, written through a cached clone held under a lock.

- Credentials never enter a URL, a config file or a log line (``credentials``).
- Every git command is bounded (``process.GitRunner``); waiting for the clone's lock is too.
- The clone is bare (``<workdir>/.git``): commits are built by ``git fast-import`` from blobs
  (``tip.GitTip``), nothing is ever checked out.
- At each ``open`` the clone is fetched, its branch forced to the remote's; when the remote
  no longer holds the commit the clone was last synced to (deleted and made again, rewritten),
  or a crashed run left git lock files behind, the clone is thrown away and made again.
- Pushes are never forced: a remote that moved answers ``push_raced``, and the generator
  (``generation``) opens the tip again and decides again.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import shutil
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from backup2gitops.adapters.git import changes, history
from backup2gitops.adapters.git.credentials import credential_env, display_url, split_credentials
from backup2gitops.adapters.git.errors import GitError
from backup2gitops.adapters.git.objects import Identity
from backup2gitops.adapters.git.process import GitRunner
from backup2gitops.adapters.git.tip import GitTip

if TYPE_CHECKING:
    from backup2gitops.config import GitConfig

FETCHED = ("+refs/heads/*:refs/remotes/origin/*", "+refs/heads/*:refs/heads/*")
"""What ``open`` fetches: every branch as remote-tracking and as local (see ``_fetch``)."""


@contextlib.contextmanager
def exclusive(path: Path, *, wait_s: float, what: str) -> Iterator[None]:
    """``path`` flocked for the block; ``git_unavailable`` after ``wait_s`` s of waiting. The
    lock goes with the file's closing, whatever ends the block (a deadline included)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as lock:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise GitError(
                        "git_unavailable",
                        f"{what} has been held by another generation for {wait_s:g} s",
                        retryable=True,
                    ) from None
                time.sleep(0.05)
        yield


class GitRemote(changes.ChangesInGitDir):
    """A remote branch and the cached clone used to write to it (a ``Repository``)."""

    def __init__(
        self,
        *,
        url: str,
        branch: str,
        cache_dir: Path,
        author_name: str,
        author_email: str,
        token: str | None = None,
        token_user: str = "x-access-token",  # noqa: S107 - a user name, not a secret
        timeout_s: float = 120.0,
        low_speed_time_s: int = 30,
    ) -> None:
        url, embedded_user, embedded_token = split_credentials(url)
        if embedded_token and not token:  # a token in git.url: a header, never .git/config
            token, token_user = embedded_token, embedded_user or token_user
        self.url = url
        self.branch = branch
        self.display_url = display_url(url)
        key = hashlib.sha256(f"{self.display_url}#{branch}".encode()).hexdigest()[:16]
        self.workdir = cache_dir / key
        self.git_dir = self.workdir / ".git"
        self.author = Identity(author_name, author_email)
        self.runner = GitRunner(
            where=self.display_url,
            timeout_s=timeout_s,
            low_speed_time_s=low_speed_time_s,
            env=credential_env(token, token_user),
            secret=token,
        )
        self.lock_wait_s = max(600.0, 5 * timeout_s)
        self.recoveries: list[str] = []

    @classmethod
    def configured(
        cls,
        config: GitConfig,
        *,
        environ: Mapping[str, str] | None = None,
        cache_dir: Path,
        url: str | None = None,
        branch: str | None = None,
    ) -> GitRemote:
        """The remote ``config`` describes (``url`` / ``branch`` given: those instead)."""
        return cls(
            url=url or config.url,
            branch=branch or config.branch,
            cache_dir=config.cache_dir or cache_dir,
            author_name=config.author_name,
            author_email=config.author_email,
            token=config.token.reveal(environ),
            token_user=config.token_user,
            timeout_s=config.timeout_s,
            low_speed_time_s=config.low_speed_time_s,
        )

    def _git(self, *args: str) -> str:
        return self.runner.text(*args, git_dir=self.git_dir)

    @contextlib.contextmanager
    def open(self) -> Iterator[GitTip]:
        """The clone, up to date with the remote, held exclusively."""
        lock = self.workdir.parent / f"{self.workdir.name}.lock"
        with exclusive(lock, wait_s=self.lock_wait_s, what=f"the clone of {self.display_url}"):
            logged = self._sync()
            yield GitTip(
                git_dir=self.git_dir,
                branch=self.branch,
                runner=self.runner,
                author=self.author,
                push=self._push,
                remote_ref=self._remote_ref,
                commit=logged[0].commit if logged else None,
                logged=logged,
            )

    def _sync(self) -> list[history.LoggedCommit]:
        """Fetch, the local branch made the remote's by the fetch itself: its history, newest
        first (empty: the remote has no branch yet). Three git processes when the clone is
        sound: the commit it was last synced to, the fetch, the branch's log (the tip, and
        the history the generator reads next)."""
        built_on = self._usable_clone()
        logged = self._fetch()
        fetched = logged[0].commit if logged else None
        if built_on is not None and built_on != fetched and not self._remote_holds(built_on):
            # The remote was deleted and made again, or its history rewritten: this clone
            # describes a repository that no longer exists. Start again from the remote.
            self._fresh_clone()
            logged = self._fetch()
        return logged

    def _fetch(self) -> list[history.LoggedCommit]:
        """Fetch from the remote, its branches both as the remote-tracking refs (what this
        clone was last synced to) and as the local branches (forced, pruned: the local branch
        is the remote's, or absent with it; a bare clone has no branch checked out); the
        branch's log (empty: it has no branch yet)."""
        self._git("fetch", "--prune", "origin", *FETCHED)
        try:
            return self._log()
        except GitError as exc:  # local trouble (the fetch worked): rebuild once, from scratch
            self.recoveries.append(f"rebuilt the work clone: {exc.message}")
            self._fresh_clone()
            self._git("fetch", "--prune", "origin", *FETCHED)
            return self._log()

    def _log(self) -> list[history.LoggedCommit]:
        ref = f"refs/heads/{self.branch}"
        return history.read_log(self.runner, git_dir=self.git_dir, ref=ref, missing_ok=True)

    def _fresh_clone(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)
        self.workdir.mkdir(parents=True)
        self.runner.run(  # HEAD names the branch from here on: nothing else moves it
            "init", "--bare", "-q", f"--initial-branch={self.branch}", str(self.git_dir)
        )
        self._git("remote", "add", "origin", self.url)
        self._set_url.write_text(_url_stamp(self.url))

    @property
    def _set_url(self) -> Path:
        """Beside the clone (not in it: not git's), a digest of the URL ``origin`` was set to:
        an unchanged URL costs no ``remote set-url`` at each open."""
        return self.workdir / "origin-url.sha256"

    def _usable_clone(self) -> str | None:
        """The clone, or a fresh one when what is there was left half-done by a crash; the
        remote branch's commit the clone was last synced to (None: a fresh clone, or none).

        Only the holder of the lock (``open``) touches the clone, so under it any git lock
        file (``index.lock``, ``HEAD.lock``, ``refs/**.lock``...) is stale: a generator was
        killed mid-operation. Its state cannot be trusted; the clone is rebuilt. A clone git
        cannot read (its first command fails) is rebuilt too.
        """
        if not self.git_dir.is_dir():
            self._fresh_clone()
            return None
        stale = sorted(str(p.relative_to(self.git_dir)) for p in self.git_dir.rglob("*.lock"))
        if stale:
            self.recoveries.append(f"stale git locks {', '.join(stale[:5])}: clone rebuilt")
            self._fresh_clone()
            return None
        stamp = _url_stamp(self.url)
        try:
            known: str | None = self._set_url.read_text()
        except OSError:
            known = None
        try:
            if known != stamp:
                self._git("remote", "set-url", "origin", self.url)
                self._set_url.write_text(stamp)
            return self._tracked_commit()
        except GitError as exc:  # half-made or damaged
            self.recoveries.append(f"unusable clone ({exc.message}): rebuilt")
            self._fresh_clone()
            return None

    def _tracked_commit(self) -> str | None:
        """The remote branch's commit this clone was last synced to, if it has one;
        ``GitError`` when git cannot read the clone (not a missing ref: exit 1)."""
        spec = f"refs/remotes/origin/{self.branch}"
        done = self.runner.run(
            "rev-parse", "--verify", "--quiet", spec, git_dir=self.git_dir, check=False
        )
        if done.returncode not in (0, 1):
            raise self.runner.failed("rev-parse", done.stderr)
        return done.stdout.decode().strip() or None if done.returncode == 0 else None

    def _remote_holds(self, commit: str) -> bool:
        """True when the fetched remote branch still contains ``commit`` (it only moved on)."""
        done = self.runner.run(
            "merge-base",
            "--is-ancestor",
            commit,
            f"refs/remotes/origin/{self.branch}",
            git_dir=self.git_dir,
            check=False,
        )
        return done.returncode == 0

    def _push(self, target: str) -> None:
        self._git("push", "--porcelain", "origin", f"refs/heads/{self.branch}:refs/heads/{target}")

    def _remote_ref(self, branch: str) -> str | None:
        """The remote's ``branch`` (review mode) as ``open``'s fetch brought it (every branch,
        pruned); None when the remote has none. No second trip to the remote."""
        ref = f"refs/remotes/origin/{branch}"
        done = self.runner.run(
            "rev-parse", "--verify", "--quiet", ref, git_dir=self.git_dir, check=False
        )
        return ref if done.returncode == 0 else None


def _url_stamp(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()


def ensure_bare_remote(path: Path, *, branch: str = "main") -> Path:
    """A local bare repository at ``path`` to push to (created when absent); its resolved path."""
    if not (path / "HEAD").is_file():
        path.mkdir(parents=True, exist_ok=True)
        GitRunner(where=str(path)).run(
            "init", "--bare", "-q", f"--initial-branch={branch}", str(path)
        )
    return path.resolve()
