"""``LocalWorkTree``: a work tree the commit is made in, on its checked-out branch, with no
remote and no push -- what an export tool does (``generate --repo DIR``). Made (``git init``)
when the folder does not exist or is empty.

The tree is the user's: one with uncommitted changes to tracked files, or untracked files under
``clusters/``, is refused. The commit is built by fast-import like any other (``tip.GitTip``),
so nothing in the tree is touched until it exists; "publishing" it is checking it out
(``git reset --hard`` of a tree seen clean), and a refused or failed backup leaves the tree as
it was.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from backup2gitops.adapters.git import changes
from backup2gitops.adapters.git.errors import GitError
from backup2gitops.adapters.git.objects import Identity
from backup2gitops.adapters.git.process import GitRunner
from backup2gitops.adapters.git.remote import exclusive
from backup2gitops.adapters.git.tip import GitTip


class LocalWorkTree(changes.ChangesInGitDir):
    """A work tree's checked-out branch (a ``Repository``)."""

    def __init__(
        self,
        *,
        path: Path,
        author_name: str,
        author_email: str,
        branch: str | None = None,
        timeout_s: float = 120.0,
    ) -> None:
        self.runner = GitRunner(where=str(path), timeout_s=timeout_s)
        if not path.exists() or (path.is_dir() and not any(path.iterdir())):
            self.runner.run("init", "-q", f"--initial-branch={branch or 'main'}", str(path))
        top = self._top(path)
        self.workdir = top
        self.git_dir = Path(self.runner.text("rev-parse", "--absolute-git-dir", cwd=top).strip())
        head = self.runner.run("symbolic-ref", "--quiet", "HEAD", cwd=top, check=False)
        if head.returncode != 0:
            raise GitError("detached_head", f"{path} has no branch checked out", retryable=False)
        current = head.stdout.decode().strip().removeprefix("refs/heads/")
        if branch is not None and branch != current:
            raise GitError(
                "branch_mismatch",
                f"{path} has {current!r} checked out, not {branch!r}",
                retryable=False,
            )
        self.branch = current
        self.display_url = str(top)
        self.author = Identity(author_name, author_email)
        self.recoveries: list[str] = []

    def _top(self, path: Path) -> Path:
        """``path`` when it is the top of a work tree (not bare, not a folder inside one)."""
        not_one = GitError(
            "not_a_work_tree", f"{path} is neither a git work tree nor empty", retryable=False
        )
        if not path.is_dir():
            raise not_one
        bare = self.runner.run("rev-parse", "--is-bare-repository", cwd=path, check=False)
        if bare.returncode != 0:
            raise not_one
        if bare.stdout.decode().strip() == "true":
            raise GitError("not_a_work_tree", f"{path} is a bare repository", retryable=False)
        top = self.runner.run("rev-parse", "--show-toplevel", cwd=path, check=False)
        if top.returncode != 0 or Path(top.stdout.decode().strip()).resolve() != path.resolve():
            raise not_one
        return path.resolve()

    @contextlib.contextmanager
    def open(self) -> Iterator[GitTip]:
        """The checked-out branch, held exclusively, refused unless the tree is clean."""
        lock = self.git_dir / "backup2gitops.lock"
        with exclusive(lock, wait_s=max(600.0, 5 * self.runner.timeout_s), what=str(self.workdir)):
            status = ("status", "--porcelain")
            if self.runner.text(*status, "--untracked-files=no", cwd=self.workdir).strip():
                raise GitError(
                    "work_tree_dirty",
                    f"{self.workdir} has uncommitted changes: commit or stash them first",
                    retryable=False,
                )
            if self.runner.text(*status, "--", "clusters", cwd=self.workdir).strip():
                raise GitError(
                    "work_tree_dirty",
                    f"{self.workdir} has untracked files under clusters/",
                    retryable=False,
                )
            yield GitTip(
                git_dir=self.git_dir,
                branch=self.branch,
                runner=self.runner,
                author=self.author,
                push=self._check_out,
            )

    def _check_out(self, _target: str) -> None:
        """Nothing to push: the commit (made on the branch by fast-import) is checked out, so
        the index and the files match it. ``open`` saw the tree clean, so nothing is lost."""
        self.runner.run("reset", "--hard", "--quiet", cwd=self.workdir)
