"""The git adapter: everything that runs git, behind one interface (``repository``).

- ``errors``: the one error type, ``GitError``, and what git's words mean (``classify``);
- ``credentials``: tokens as HTTP headers in the child's environment, remotes shown without them;
- ``process``: every git command bounded (deadline, low-speed limit, ssh keep-alives);
- ``history``: ``git log`` with trailers, parsed by ``core.trailers``; the health reads;
- ``objects``: what git makes of content, a message, an author (shared with ``memory``);
- ``folder_sync``: a folder made to hold exactly a stream of files (what changed, checked);
- ``fast_import``: the ``git fast-import`` process the commit is written through;
- ``changes``: what a commit changed, read back for drift (a redelivered backup);
- ``repository``: the ``Repository`` / ``Tip`` / ``ChangeSet`` protocols the generator uses;
- ``tip``: those on a git directory; ``remote``: a remote through a cached clone;
  ``worktree``: a local work tree; ``memory``: no git at all (tests).
"""

from backup2gitops.adapters.git.credentials import display_url
from backup2gitops.adapters.git.errors import GitError
from backup2gitops.adapters.git.objects import blob_id
from backup2gitops.adapters.git.remote import GitRemote, ensure_bare_remote
from backup2gitops.adapters.git.repository import (
    BackupCommit,
    ChangeSet,
    Folder,
    Repository,
    Seal,
    Tip,
)
from backup2gitops.adapters.git.worktree import LocalWorkTree

__all__ = [
    "BackupCommit",
    "ChangeSet",
    "Folder",
    "GitError",
    "GitRemote",
    "LocalWorkTree",
    "Repository",
    "Seal",
    "Tip",
    "blob_id",
    "display_url",
    "ensure_bare_remote",
]
