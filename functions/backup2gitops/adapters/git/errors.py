"""The git adapter's one error type, and what git's words mean (``classify``)."""

from __future__ import annotations

import re

from backup2gitops.core import errors


class GitError(errors.Backup2GitopsError):
    """A git operation failed; ``code`` says how, the message holds no credentials.

    Codes: ``git_unavailable`` (retryable: the remote did not answer in time, or failed),
    ``push_raced`` (retryable: the branch moved under the push), ``auth_failed``,
    ``push_rejected`` (a hook or a protection), ``remote_not_found``, ``unsafe_path``,
    ``unsafe_trailer``, ``not_a_work_tree``, ``detached_head``, ``branch_mismatch``,
    ``work_tree_dirty``."""

    def __init__(self, code: str, message: str, *, retryable: bool) -> None:
        super().__init__(message, code=code, permanent=not retryable)


def unsafe_path(message: str) -> GitError:
    """A path that would land outside the folder, or that fast-import would misread."""
    return GitError("unsafe_path", message, retryable=False)


_HTTP_403 = re.compile(r"returned error: 403\b|\b403 forbidden\b")
_RACED = (
    "fetch first",
    "non-fast-forward",
    "cannot lock ref",
    "stale info",
    "failed to update ref",
    "incorrect old value",
)


def git_cause(stderr: str) -> str:
    """git's reason, on one line: its first ``fatal:``/``error:`` line (the last line is often
    advice, "and the repository exists."), without the prefix; else its last line."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    fatal = [line for line in lines if line.startswith(("fatal: ", "error: "))]
    chosen = fatal[0] if fatal else (lines[-1] if lines else "")
    return chosen.removeprefix("fatal: ").removeprefix("error: ")[:300]


def classify(stderr: str, *, where: str, token_sent: bool = True) -> GitError:
    """The error git's output ``stderr`` describes; ``where`` is the remote, already safe to
    show (``credentials.display_url``); ``token_sent``: whether a credential went with it."""
    text = stderr.lower()
    refused = ("authentication failed", "permission denied", "could not read username")
    # git asks for a user when a token is refused. HTTP 403 only as git's curl reports it: a
    # bare "403" also matches object ids and paths (pytest-403/, a race's "is at 4031ab...").
    if any(sign in text for sign in refused) or _HTTP_403.search(text):
        if not token_sent and where.startswith(("http://", "https://")):
            return GitError(
                "auth_failed",
                f"the remote {where} wants credentials and no credentials were sent: set "
                "git.token (e.g. {env: BACKUP2GITOPS_GIT_TOKEN}) to a token that may push",
                retryable=False,
            )
        return GitError(
            "auth_failed", f"the remote {where} refused our credentials", retryable=False
        )
    if "hook declined" in text or "pre-receive hook" in text or "protected branch" in text:
        return GitError(
            "push_rejected", f"{where} rejected the push (hook or protection)", retryable=False
        )
    if any(sign in text for sign in _RACED):
        return GitError(
            "push_raced", f"the branch on {where} moved during the push", retryable=True
        )
    if "not found" in text or "does not appear to be a git repository" in text:
        return GitError("remote_not_found", f"no repository at {where}", retryable=False)
    return GitError("git_unavailable", f"git failed talking to {where}", retryable=True)
