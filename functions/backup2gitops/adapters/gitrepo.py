"""The git adapter: a working clone of the GitOps remote, one commit per backup, safe pushes.

- Credentials never enter a URL, a config file or a log line: an HTTPS token is passed to git
  as an ``http.extraHeader`` through ``GIT_CONFIG_*`` environment variables of the child
  process (``git_remote.credential_env``); SSH uses the agent/keys of the environment.
  ``display_url`` strips userinfo.
- One commit per backup, with ``Backup-Id:`` and ``Cluster:`` trailers. A backup whose
  ``Backup-Id`` is already on the branch is a no-op.
- Pushes are never forced. When the remote moved, the adapter fetches, resets onto the new tip,
  re-applies the same tree change (for another cluster's files this is exactly a rebase) and
  tries again, a bounded number of times. A push is atomic: a failure leaves the remote as it was.
- The cached clone checks, at each sync, that the remote still holds the commit the clone was
  last synced to; when not (the remote was deleted and made again, or rewritten), the clone is
  thrown away and made again from the remote.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import random
import re
import shutil
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from backup2gitops.adapters import tree_import
from backup2gitops.adapters.git_remote import credential_env, git_cause, split_credentials
from backup2gitops.core import errors, units
from backup2gitops.core.safeguards import (
    CREATED_AT_TRAILER,
    BackupMark,
    created_at_trailer,
    parse_created_at,
    superseded_by,
)

if TYPE_CHECKING:  # GitPython (~0.2 s, and it needs the git binary) loads with the first clone
    import git

_ERE_SPECIAL = re.compile(r"[.\[\]()*+?{}|^$\\]")
"""What must be escaped in a POSIX extended regular expression (git log --extended-regexp)."""


def _escaped(match: re.Match[str]) -> str:
    return "\\" + match.group(0)


class GitError(errors.Backup2GitopsError):
    def __init__(self, code: str, message: str, *, retryable: bool) -> None:
        super().__init__(message, code=code, permanent=not retryable)


@dataclass(frozen=True)
class CommitResult:
    commit: str
    added: int
    changed: int
    removed: int
    noop: bool
    reason: str | None = None
    """Why a no-op made no commit when that is not "already on the branch" (superseded)."""


@dataclass(frozen=True)
class _Prepared:
    """A commit made on a tip that moved before it was pushed, to re-apply on the new one."""

    base: str | None  # the folder's tree on the tip it was made on
    tree: str | None  # the folder's tree it made
    message: str
    counts: tuple[int, int, int]


Guard = Callable[[int, CommitResult], None]
"""Called with the cluster's object count on the tip and the change about to be committed;
raises to refuse the commit (the work tree is reset on the next sync)."""


def display_url(url: str) -> str:
    """The remote without credentials, safe to log and to put in events."""
    parts = urlsplit(url)
    if parts.scheme in ("http", "https", "ssh", "git") and "@" in parts.netloc:
        host = parts.netloc.rsplit("@", 1)[1]
        user = parts.netloc.rsplit("@", 1)[0].split(":", 1)[0]
        netloc = f"{user}@{host}" if parts.scheme == "ssh" else host
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return url


_HTTP_403 = re.compile(r"returned error: 403\b|\b403 forbidden\b")


def _classify(exc: git.GitCommandError, *, url: str, token_sent: bool = True) -> GitError:
    text = f"{exc.stderr or ''} {exc.stdout or ''}".lower()
    safe = display_url(url)
    refused = ("authentication failed", "permission denied", "could not read username")
    # git asks for a user when a token is refused. HTTP 403 only as git's curl reports it: a
    # bare "403" also matches object ids and paths (pytest-403/, a race's "is at 4031ab...").
    if any(sign in text for sign in refused) or _HTTP_403.search(text):
        if not token_sent and urlsplit(url).scheme in ("http", "https"):
            return GitError(
                "auth_failed",
                f"the remote {safe} wants credentials and no credentials were sent: set "
                "git.token (e.g. {env: BACKUP2GITOPS_GIT_TOKEN}) to a token that may push",
                retryable=False,
            )
        return GitError(
            "auth_failed", f"the remote {safe} refused our credentials", retryable=False
        )
    if "hook declined" in text or "pre-receive hook" in text or "protected branch" in text:
        return GitError(
            "push_rejected", f"{safe} rejected the push (hook or protection)", retryable=False
        )
    if "not found" in text or "does not appear to be a git repository" in text:
        return GitError("remote_not_found", f"no repository at {safe}", retryable=False)
    # GitPython wraps git's stderr as "\n  stderr: '...'"
    cause = git_cause(str(exc.stderr or "").strip().removeprefix("stderr: '").removesuffix("'"))
    return GitError(
        "git_unavailable",
        f"git failed talking to {safe}" + (f": {cause}" if cause else ""),
        retryable=True,
    )


class GitRemote:
    """A remote branch and the local clone used to write to it."""

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
        push_attempts: int = 5,
    ) -> None:
        url, embedded_user, embedded_token = split_credentials(url)
        if embedded_token and not token:  # a token in git.url: a header, never .git/config
            token, token_user = embedded_token, embedded_user or token_user
        self.url = url
        self.branch = branch
        self.display_url = display_url(url)
        key = hashlib.sha256(f"{self.display_url}#{branch}".encode()).hexdigest()[:16]
        self.workdir = cache_dir / key
        self.author = tree_import.Identity(author_name, author_email)
        self.push_attempts = push_attempts
        self._env = credential_env(token, token_user)
        self.push_attempts_made = 0
        """Pushes the last ``publish`` needed (1: no race lost), for benchmarks and logs."""
        self.recoveries: list[str] = []
        """What ``locked`` found left by a crashed run and repaired (for the caller's log)."""
        self._reading: tuple[git.Repo, Mapping[str, str]] | None = None

    @contextlib.contextmanager
    def locked(self) -> Iterator[git.Repo]:
        """The working clone, up to date with the remote, held exclusively."""
        self.workdir.parent.mkdir(parents=True, exist_ok=True)
        with (self.workdir.parent / f"{self.workdir.name}.lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield self._sync()

    def _git(self, repo: git.Repo, *args: str) -> str:
        import git

        try:
            with repo.git.custom_environment(**self._env):
                return str(repo.git.execute(["git", *args]))
        except git.GitCommandError as exc:
            raise _classify(
                exc, url=self.url, token_sent="GIT_CONFIG_VALUE_0" in self._env
            ) from exc

    def _sync(self) -> git.Repo:
        repo = self._usable_clone()
        built_on = self._tracked_commit(repo)
        self._git(repo, "fetch", "--prune", "origin")
        if built_on is not None and not self._remote_holds(repo, built_on):
            # The remote was deleted and made again, or its history rewritten: this clone
            # describes a repository that no longer exists. Start again from the remote.
            repo = self._fresh_clone()
            self._git(repo, "fetch", "--prune", "origin")
        try:
            self._reset_to_remote(repo)
        except GitError as exc:  # local trouble (the fetch worked): rebuild once, from scratch
            self.recoveries.append(f"rebuilt the work clone: {exc.message}")
            repo = self._fresh_clone()
            self._git(repo, "fetch", "--prune", "origin")
            self._reset_to_remote(repo)
        return repo

    def _fresh_clone(self) -> git.Repo:
        """A clone with no work tree (``<workdir>/.git``, bare): commits are built by
        ``tree_import`` from blobs, never from files on disk."""
        import git

        shutil.rmtree(self.workdir, ignore_errors=True)
        self.workdir.mkdir(parents=True)
        git.Repo.init(self.workdir / ".git", bare=True, initial_branch=self.branch)
        repo = git.Repo(self.workdir)
        repo.create_remote("origin", self.url)
        return repo

    def _usable_clone(self) -> git.Repo:
        """The work clone, or a fresh one when what is there was left half-done by a crash.

        Only the holder of the flock (``locked``) touches the clone, so under it any git lock
        file (``index.lock``, ``HEAD.lock``, ``refs/**.lock``...) is stale: a generator was
        killed mid-operation. Its state cannot be trusted; the clone is rebuilt.
        """
        import git

        dot_git = self.workdir / ".git"
        if not dot_git.is_dir():
            return self._fresh_clone()
        stale = sorted(str(p.relative_to(dot_git)) for p in dot_git.rglob("*.lock"))
        if stale:
            self.recoveries.append(f"stale git locks {', '.join(stale[:5])}: clone rebuilt")
            return self._fresh_clone()
        try:
            repo = git.Repo(self.workdir)
            repo.remote("origin").set_url(self.url)
        except (git.GitError, ValueError, OSError) as exc:  # half-made or damaged
            self.recoveries.append(f"unusable clone ({type(exc).__name__}): rebuilt")
            return self._fresh_clone()
        return repo

    def _reset_to_remote(self, repo: git.Repo) -> None:
        """Point the local branch (and HEAD) at the remote's tip; nothing is checked out."""
        local = f"refs/heads/{self.branch}"
        tip = self._tracked_commit(repo)
        if tip is not None:
            self._git(repo, "update-ref", "--no-deref", local, tip)
        else:  # an empty remote: the branch starts with our first commit
            with contextlib.suppress(GitError):
                self._git(repo, "update-ref", "-d", local)
        self._git(repo, "symbolic-ref", "HEAD", local)

    def _tracked_commit(self, repo: git.Repo) -> str | None:
        """The remote branch's commit this clone was last synced to, if it has one."""
        import git

        try:
            return str(
                repo.git.rev_parse("--verify", "--quiet", f"refs/remotes/origin/{self.branch}")
            )
        except git.GitCommandError:
            return None

    def _remote_holds(self, repo: git.Repo, commit: str) -> bool:
        """True when the fetched remote branch still contains ``commit`` (it only moved on)."""
        import git

        try:
            repo.git.merge_base("--is-ancestor", commit, f"refs/remotes/origin/{self.branch}")
        except git.GitCommandError:
            return False
        return True

    def commit_for(
        self, repo: git.Repo, *, backup_id: str, cluster: str, ref: str | None = None
    ) -> str | None:
        """The commit on the branch (or ``ref``) that already carries this backup, if any."""
        if not repo.head.is_valid() and ref is None:
            return None
        out = self._git(
            repo,
            "log",
            "--format=%H%x00%(trailers:key=Backup-Id,key=Cluster,valueonly,separator=%x00)",
            "--grep",
            f"Backup-Id: {backup_id}",
            "--fixed-strings",
            ref or self.branch,
        )
        for line in out.splitlines():
            sha, *values = line.split("\x00")
            if backup_id in values and cluster in values:
                return sha
        return None

    def publish(
        self,
        *,
        root: PurePosixPath,
        files: Callable[[], Iterable[tuple[PurePosixPath, bytes]]],
        message: Callable[[CommitResult], str],
        backup_id: str,
        cluster: str,
        allow_empty: bool = True,
        push_branch: str | None = None,
        mark: BackupMark | None = None,
        guard: Guard | None = None,
        shared: Mapping[PurePosixPath, Callable[[bytes | None], bytes]] | None = None,
    ) -> CommitResult:
        """Make ``root`` hold exactly ``files``, commit, push; fetch and re-apply when raced.

        ``push_branch`` (review mode) pushes the commit, made on top of the branch, to a branch
        of its own instead; a review branch that already carries this backup is a no-op.
        ``mark`` (the backup's completion time) goes into a ``Backup-Created-At`` trailer, and a
        backup older than the one the tip reflects for this cluster is a no-op with a
        ``reason``: asked again on every attempt, so on the tip a lost race fetched.
        ``guard`` may refuse the change before it is committed. ``shared`` maps files outside
        ``root`` that clusters share (``.sops.yaml``) to a function of their current content
        (None: absent) giving the new one; a change there alone is a commit.
        """
        target = push_branch or self.branch
        redo: _Prepared | None = None  # the change made on the tip a lost race had
        for attempt in range(1, self.push_attempts + 1):
            if attempt > 1:  # the generators that lost a race do not all come back at once
                time.sleep(random.uniform(0, min(0.05 * 2**attempt, 2.0)))  # noqa: S311
            with self.locked() as repo:
                existing = self.commit_for(repo, backup_id=backup_id, cluster=cluster)
                if existing is None and push_branch is not None:
                    existing = self._review_commit(repo, push_branch, backup_id, cluster)
                if existing:
                    return CommitResult(existing, 0, 0, 0, noop=True)
                if mark is not None:
                    newest = self.newest_mark(repo, cluster=cluster)
                    reason = superseded_by(mark, newest[1]) if newest else None
                    if newest and reason:
                        return CommitResult(newest[0], 0, 0, 0, noop=True, reason=reason)
                tip = self._tracked_commit(repo)
                base = self._folder_tree(repo, tip, root)
                if redo is not None and tip is not None and base == redo.base and not shared:
                    # Another cluster's commit won: our folder on the new tip is as it was, so
                    # the same folder tree on the new tip is exactly the rebase (the guards
                    # saw this folder already; the order was asked again above).
                    counts = redo.counts
                    with self._importer(repo) as importer:
                        importer.commit_folder(
                            ref=f"refs/heads/{self.branch}",
                            parent=tip,
                            root=root,
                            tree=redo.tree,
                            message=redo.message,
                            author=self.author,
                        )
                else:
                    made = self._commit_files(
                        repo,
                        root=root,
                        files=files,
                        message=message,
                        tip=tip,
                        trailers=self._trailers(backup_id, cluster, mark),
                        allow_empty=allow_empty,
                        guard=guard,
                        shared=shared or {},
                    )
                    if isinstance(made, CommitResult):
                        return made  # nothing changed and no empty commit asked for
                    counts = made
                    redo = _Prepared(
                        base=base,
                        tree=self._folder_tree(repo, "HEAD", root),
                        message=str(repo.head.commit.message),
                        counts=counts,
                    )
                sha = repo.head.commit.hexsha
                try:
                    self._push(repo, target)
                    self.push_attempts_made = attempt
                    return CommitResult(sha, *counts, noop=False)
                except GitError as exc:
                    if exc.code != "git_unavailable" or attempt == self.push_attempts:
                        raise
                    # Most likely the remote moved (another generator pushed): loop re-syncs.
        raise GitError("push_raced", "the remote kept moving", retryable=True)

    def _push(self, repo: git.Repo, target: str) -> None:
        self._git(repo, "push", "--porcelain", "origin", f"HEAD:refs/heads/{target}")

    @contextlib.contextmanager
    def _importer(self, repo: git.Repo) -> Iterator[tree_import.TreeImport]:
        """One ``git fast-import`` into the clone, its failures as ``GitError``; ended with
        no commit unless one was written (a no-op after it)."""
        importer = tree_import.TreeImport(git_dir=Path(repo.git_dir))
        try:
            yield importer
        except tree_import.UnsafePath as exc:
            raise GitError("unsafe_path", str(exc), retryable=False) from exc
        except tree_import.ImportFailed as exc:
            where = f"{exc.message} (work clone {self.workdir})"
            raise GitError(exc.code, where, retryable=True) from exc
        finally:
            importer.abandon()

    @staticmethod
    def _trailers(backup_id: str, cluster: str, mark: BackupMark | None) -> dict[str, str]:
        trailers = {"Backup-Id": backup_id, "Cluster": cluster}
        if mark is not None:
            trailers[CREATED_AT_TRAILER] = created_at_trailer(mark.created_at)
        return trailers

    def _commit_files(
        self,
        repo: git.Repo,
        *,
        root: PurePosixPath,
        files: Callable[[], Iterable[tuple[PurePosixPath, bytes]]],
        message: Callable[[CommitResult], str],
        tip: str | None,
        trailers: Mapping[str, str],
        allow_empty: bool,
        guard: Guard | None,
        shared: Mapping[PurePosixPath, Callable[[bytes | None], bytes]],
    ) -> tuple[int, int, int] | CommitResult:
        """Commit ``files`` as ``root`` on ``tip``: the counts, or the no-op result when
        nothing changed and no empty commit is wanted. The guards may refuse first."""
        tracked, links = self._tracked_blobs(repo, root, tip=tip)
        self._reading = (repo, tracked)  # what ``committed`` answers from while streaming
        try:  # one file in memory at a time, streamed into git as a blob
            with self._importer(repo) as importer:
                change = importer.sync_folder(
                    root=root, files=files(), tracked=tracked, links=links
                )
                for path, update in shared.items():  # fixed names, never from a backup
                    current = self._file_at(repo, tip, path)
                    content = update(current)
                    if content != current:
                        importer.put(change, str(path), content)
                counts = (change.added, change.changed, change.removed)
                result = CommitResult("", *counts, noop=False)
                if guard is not None:
                    before = sum(1 for p in tracked if not units.is_generated(p))
                    guard(before, result)
                if not change.written and not allow_empty:
                    return CommitResult(tip or "", 0, 0, 0, noop=True)
                importer.commit(
                    ref=f"refs/heads/{self.branch}",
                    parent=tip,
                    change=change,
                    message=_with_trailers(message(result), trailers),
                    author=self.author,
                )
        finally:
            self._reading = None
        return counts

    def committed(self, path: PurePosixPath) -> bytes | None:
        """The file at ``path`` on the tip being built upon, while ``publish`` streams files
        (None: absent, or not while streaming)."""
        if self._reading is None:
            return None
        repo, tracked = self._reading
        blob = tracked.get(str(path))
        return None if blob is None else self._blob(repo, blob)

    def _file_at(self, repo: git.Repo, tip: str | None, path: PurePosixPath) -> bytes | None:
        """The content of the regular file ``path`` in ``tip`` (None: absent or not a file)."""
        if tip is None:
            return None
        listed = self._git(repo, "ls-tree", "-z", "--full-tree", tip, "--", str(path))
        meta = listed.partition("\t")[0].split(" ")
        if len(meta) != 3 or meta[0] != "100644":
            return None
        return self._blob(repo, meta[2])

    def _blob(self, repo: git.Repo, blob: str) -> bytes:
        import subprocess

        return subprocess.run(  # bytes as stored (GitPython's output is decoded text)
            ["git", "--git-dir", str(repo.git_dir), "cat-file", "blob", blob],
            check=True,
            capture_output=True,
        ).stdout

    def _folder_tree(self, repo: git.Repo, commit: str | None, root: PurePosixPath) -> str | None:
        """The tree id of ``root`` in ``commit`` (None: no such folder, or no commit)."""
        if commit is None:
            return None
        import git

        try:
            return str(repo.git.rev_parse("--verify", "--quiet", f"{commit}:{root}"))
        except git.GitCommandError:
            return None

    def newest_mark(self, repo: git.Repo, *, cluster: str) -> tuple[str, BackupMark] | None:
        """The newest commit on the branch for ``cluster`` and the backup it says it reflects;
        None when there is none, or when it carries no ``Backup-Created-At`` (made before it)."""
        if not repo.head.is_valid():
            return None
        fields = ("Cluster", "Backup-Id", CREATED_AT_TRAILER)
        values = "%x1f".join(f"%(trailers:key={k},valueonly,separator=%x1d)" for k in fields)
        out = self._git(
            repo,
            "log",
            "-n1",
            "--extended-regexp",
            "--grep",
            f"^Cluster: {_ERE_SPECIAL.sub(_escaped, cluster)}$",
            f"--format=%H%x1f{values}%x1e",
            self.branch,
        )
        for record in out.split("\x1e"):
            parts = [part.strip() for part in record.strip().split("\x1f")]
            if len(parts) != 4 or parts[1].split("\x1d")[0] != cluster:
                continue
            created = parse_created_at(parts[3].split("\x1d")[0])
            if created is None:
                return None
            return parts[0], BackupMark(backup_id=parts[2].split("\x1d")[0], created_at=created)
        return None

    def _review_commit(
        self, repo: git.Repo, branch: str, backup_id: str, cluster: str
    ) -> str | None:
        if not self._git(repo, "ls-remote", "--heads", "origin", branch).strip():
            return None
        self._git(repo, "fetch", "origin", f"+refs/heads/{branch}:refs/remotes/origin/{branch}")
        return self.commit_for(repo, backup_id=backup_id, cluster=cluster, ref=f"origin/{branch}")

    def _tracked_blobs(
        self, repo: git.Repo, root: PurePosixPath, *, tip: str | None
    ) -> tuple[dict[str, str], set[str]]:
        """Path -> blob id of every file the tip's tree holds under ``root``, and which of
        those paths are symbolic links."""
        tracked: dict[str, str] = {}
        links: set[str] = set()
        if tip is None:
            return tracked, links
        out = self._git(repo, "ls-tree", "-r", "-z", "--full-tree", tip, "--", str(root))
        for entry in out.split("\0"):
            if entry:
                meta, _, path = entry.partition("\t")
                mode, _, object_id = meta.split(" ")
                tracked[path] = object_id
                if mode == "120000":
                    links.add(path)
        return tracked, links


def _with_trailers(message: str, trailers: Mapping[str, str]) -> str:
    for key, value in trailers.items():  # a newline would add trailers of its own choosing
        if not value or any(ord(char) < 0x20 or ord(char) == 0x7F for char in value):
            raise GitError(
                "unsafe_trailer",
                f"{key} {value!r} is empty or has a control character",
                retryable=False,
            )
    return message.rstrip() + "\n\n" + "".join(f"{k}: {v}\n" for k, v in trailers.items())


class LocalWorkTree(GitRemote):
    """A local work tree the commit is made in, on its checked-out branch, with no remote and
    no push: what an export tool does (``generate --repo DIR``). Made (``git init``) when the
    folder does not exist or is empty.

    The tree is the user's: a tree with uncommitted changes to tracked files, or untracked
    files under ``clusters/``, is refused. The commit is built by fast-import like any other,
    so nothing in the tree is touched until it exists; then the clean tree is reset to it, and
    a refused or failed backup leaves the tree as it was.
    """

    def __init__(
        self,
        *,
        path: Path,
        author_name: str,
        author_email: str,
        branch: str | None = None,
    ) -> None:
        import git

        if not path.exists() or (path.is_dir() and not any(path.iterdir())):
            git.Repo.init(path, mkdir=True, initial_branch=branch or "main")
        try:
            repo = git.Repo(path)
        except (git.InvalidGitRepositoryError, git.NoSuchPathError) as exc:
            raise GitError(
                "not_a_work_tree", f"{path} is neither a git work tree nor empty", retryable=False
            ) from exc
        if repo.bare or repo.working_tree_dir is None:
            raise GitError("not_a_work_tree", f"{path} is a bare repository", retryable=False)
        if repo.head.is_detached:
            raise GitError("detached_head", f"{path} has no branch checked out", retryable=False)
        current = repo.head.reference.name
        if branch is not None and branch != current:
            raise GitError(
                "branch_mismatch",
                f"{path} has {current!r} checked out, not {branch!r}",
                retryable=False,
            )
        top = Path(repo.working_tree_dir)
        super().__init__(
            url=str(top),
            branch=current,
            cache_dir=top.parent,
            author_name=author_name,
            author_email=author_email,
            push_attempts=1,
        )
        self.workdir = top
        self._git_dir = Path(repo.git_dir)  # not always top/.git: a linked worktree has a file

    @contextlib.contextmanager
    def locked(self) -> Iterator[git.Repo]:
        import git

        with (self._git_dir / "backup2gitops.lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            repo = git.Repo(self.workdir)
            if self._git(repo, "status", "--porcelain", "--untracked-files=no").strip():
                raise GitError(
                    "work_tree_dirty",
                    f"{self.workdir} has uncommitted changes: commit or stash them first",
                    retryable=False,
                )
            if self._git(repo, "status", "--porcelain", "--", "clusters").strip():
                raise GitError(
                    "work_tree_dirty",
                    f"{self.workdir} has untracked files under clusters/",
                    retryable=False,
                )
            yield repo

    def _tracked_commit(self, repo: git.Repo) -> str | None:
        """The checked-out branch's commit (None: no commit yet)."""
        try:
            return self._git(repo, "rev-parse", "--verify", "--quiet", f"refs/heads/{self.branch}")
        except GitError:
            return None

    def _push(self, repo: git.Repo, target: str) -> None:
        """Nothing to push: the commit (made on the branch by fast-import) is checked out, so
        the index and the files match it. ``locked`` saw the tree clean, so nothing is lost."""
        self._git(repo, "reset", "--hard", "--quiet")


def ensure_bare_remote(path: Path, *, branch: str = "main") -> Path:
    """A local bare repository at ``path`` to push to (created when absent); its resolved path."""
    import git

    if not (path / "HEAD").is_file():
        git.Repo.init(path, bare=True, mkdir=True, initial_branch=branch)
    return path.resolve()
