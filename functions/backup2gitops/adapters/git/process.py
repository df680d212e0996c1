"""Every git child process, bounded: a deadline, a low-speed limit, ssh keep-alives.

A remote that accepts the connection and never answers (git://, http(s)://, ssh) used to hang a
generator for ever, holding the clone lock. Here each command runs in a process group of its
own; at its deadline the whole group (git and its ``git-remote-http`` / ``ssh`` helpers) is
killed and the command fails with ``git_unavailable`` (retryable). HTTP transfers slower than
``LOW_SPEED_BYTES_S`` for ``low_speed_time_s`` are ended by git itself
(``http.lowSpeedLimit`` / ``http.lowSpeedTime``); ssh sends keep-alives and gives up on a
silent server (``ServerAliveInterval`` / ``ServerAliveCountMax``) unless ``GIT_SSH_COMMAND``
is set already.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, NamedTuple

from backup2gitops.adapters.git.credentials import redact
from backup2gitops.adapters.git.errors import GitError, classify, git_cause

LOW_SPEED_BYTES_S = 1000
SSH_COMMAND = "ssh -o BatchMode=yes -o ServerAliveInterval=15 -o ServerAliveCountMax=4"


class Done(NamedTuple):
    returncode: int
    stdout: bytes
    stderr: str


@dataclass(frozen=True, eq=False)  # a runner is itself: never compared
class GitRunner:
    """Runs git for one remote: its credential environment, its deadlines, its safe name."""

    where: str = "the repository"
    """The remote as it may be shown (``credentials.display_url``)."""
    timeout_s: float = 120.0
    low_speed_time_s: int = 30
    env: Mapping[str, str] = field(default_factory=dict)
    secret: str | None = None
    """Redacted from every message (it travels in ``env``, never in an argument)."""

    def _argv(self, args: Sequence[str], git_dir: Path | None) -> list[str]:
        argv = ["git", "-c", f"http.lowSpeedLimit={LOW_SPEED_BYTES_S}"]
        argv += ["-c", f"http.lowSpeedTime={max(1, self.low_speed_time_s)}"]
        if git_dir is not None:
            argv += ["--git-dir", os.fspath(git_dir)]
        return [*argv, *args]

    def _environ(self) -> dict[str, str]:
        env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true", "LC_ALL": "C"}
        env.setdefault("GIT_SSH_COMMAND", SSH_COMMAND)
        env.update(self.env)
        return env

    def run(
        self,
        *args: str,
        git_dir: Path | None = None,
        cwd: Path | None = None,
        stdin: bytes | None = None,
        check: bool = True,
    ) -> Done:
        """``git args``; ``GitError`` (classified) when it fails and ``check``, always when it
        outlives ``timeout_s``."""
        process = _Child(
            self._argv(args, git_dir),
            cwd=cwd,
            env=self._environ(),
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its own group: the deadline ends its helpers too
        )
        try:
            out, err = process.communicate(stdin, timeout=self.timeout_s)
        except subprocess.TimeoutExpired:
            kill_group(process)
            raise self.expired(args[0]) from None
        except BaseException:
            kill_group(process)
            raise
        done = Done(process.returncode, out, redact(err.decode(errors="replace"), self.secret))
        if check and done.returncode != 0:
            raise self.failed(args[0], done.stderr, out.decode(errors="replace"))
        return done

    def text(self, *args: str, git_dir: Path | None = None, cwd: Path | None = None) -> str:
        """The standard output of ``git args`` as text."""
        return self.run(*args, git_dir=git_dir, cwd=cwd).stdout.decode()

    def start(self, *args: str, git_dir: Path, stderr: IO[bytes]) -> subprocess.Popen[bytes]:
        """A long-running ``git args`` fed on its standard input, answering on its standard
        output (``git fast-import``); end it with ``finish``."""
        return _Child(
            self._argv(args, git_dir),
            env=self._environ(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            bufsize=1 << 16,
            start_new_session=True,
        )

    def finish(self, process: subprocess.Popen[bytes], what: str) -> int:
        """Wait for a started process within the deadline; its exit code."""
        try:
            return process.wait(timeout=self.timeout_s)
        except subprocess.TimeoutExpired:
            kill_group(process)
            raise self.expired(what) from None

    def expired(self, what: str) -> GitError:
        return GitError(
            "git_unavailable",
            f"git {what} got no answer from {self.where} within {self.timeout_s:g} s",
            retryable=True,
        )

    def failed(self, what: str, stderr: str, stdout: str = "") -> GitError:
        """The classified error, with git's own reason (``git_cause``) after a colon; a remote
        that wants credentials when none were sent says which setting to fill in instead."""
        error = classify(
            f"{stderr}\n{stdout}", where=self.where, token_sent=self.secret is not None
        )
        if error.code == "auth_failed" and self.secret is None:
            return error
        cause = redact(git_cause(stderr), self.secret) or f"git {what} failed"
        return GitError(error.code, f"{error.message}: {cause}", retryable=error.retryable)


class _Child(subprocess.Popen[bytes]):
    """A git process whose end, awaited with a deadline, is seen the moment it comes: on a
    pidfd (Linux), where ``Popen.wait(timeout)`` polls with sleeps growing to 50 ms (~70 ms
    of an unchanged backup's 14 git commands went to those sleeps)."""

    def wait(self, timeout: float | None = None) -> int:
        if timeout is not None and self.returncode is None:
            _until_exit(self, timeout)
        return super().wait(timeout)


def _until_exit(process: subprocess.Popen[bytes], timeout: float) -> None:
    """Return when ``process`` has ended (not reaped yet); ``TimeoutExpired`` at ``timeout``.
    Without pidfds, nothing: ``Popen.wait`` then waits its own way."""
    try:
        pidfd = os.pidfd_open(process.pid)
    except (AttributeError, OSError):
        return
    try:
        poller = select.poll()
        poller.register(pidfd, select.POLLIN)
        if not poller.poll(max(0.0, timeout) * 1000):
            raise subprocess.TimeoutExpired(process.args, timeout)
    finally:
        os.close(pidfd)


def kill_group(process: subprocess.Popen[bytes]) -> None:
    """Kill ``process`` and everything it started (its session), then reap it."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        process.kill()
    with contextlib.suppress(Exception):
        process.communicate(timeout=30)
