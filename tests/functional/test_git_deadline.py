"""A git remote that accepts the connection and never answers (issue 22 item 2), on git:// and
http://: gitops-generator gives up at ``git.timeout_s`` (a few seconds here, through the
configuration), kills git and its helpers, releases the clone lock, answers 503 (the Broker
retries) and announces ``gitops.failed`` ``git_unavailable`` with ``retryable: true`` at once,
so the alert-router hears of it even if the Broker dead-letters the event. A second delivery
takes the lock and fails the same way -- it does not wait behind the first.

No timing is asserted (the time to git_unavailable is printed by
benchmarks/bench_git_deadline.py): only outcomes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import flask
import pytest

from backup2gitops.adapters.git import GitError
from backup2gitops.adapters.storage import MemoryStore
from backup2gitops.config import Config, GitConfig
from backup2gitops.core import events
from backup2gitops.runtime.context import FunctionContext
from backup2gitops.runtime.http import handle_request
from gitops_generator.handler import SPEC
from tests.functional.stalled_remote import stalled_remote
from tests.functional.test_gitops_generator import ARCHIVE, KEY, completed, post
from tests.git_repos import git_remote

SCHEMES = ["git", "http"]
SENT = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)
"""When the ``backup.completed`` the tests deliver was sent."""


def client_for(
    url: str,
    cache_dir: Path,
    published: list[events.Event],
    *,
    timeout_s: float,
    age: timedelta = timedelta(seconds=10),  # within generator.retry_window_s
) -> Any:
    """gitops-generator's test client pushing to ``url`` with git's deadline ``timeout_s``, the
    backup in its store, its clock ``age`` after ``SENT``, what it publishes appended to
    ``published``."""
    config = Config(git=GitConfig(url=url, cache_dir=cache_dir, timeout_s=timeout_s))
    store = MemoryStore("backups")
    store.put_bytes(KEY, ARCHIVE)
    ctx = FunctionContext(
        config,
        store=store,
        environ={},
        publish=published.append,
        clock=lambda: SENT + age,
    )
    app = flask.Flask("g")
    app.add_url_rule("/", "f", lambda: handle_request(SPEC, flask.request, ctx), methods=["POST"])
    return app.test_client()


@pytest.mark.parametrize("scheme", SCHEMES)
def test_a_silent_remote_is_git_unavailable_announced_and_the_lock_is_released(
    scheme: str, tmp_path: Path
) -> None:
    with stalled_remote() as remote:
        url = f"{scheme}://127.0.0.1:{remote.port}/gitops.git"
        published: list[events.Event] = []
        client = client_for(url, tmp_path / "cache", published, timeout_s=3)
        event = completed().model_copy(update={"time": SENT})

        for delivery in (1, 2):  # the second takes the lock the first released
            status, _ = post(client, event)
            assert status == 503  # the Broker redelivers
            assert [e.type for e in published] == [events.GITOPS_FAILED] * delivery
            failed = events.GitopsFailed.model_validate(published[-1].data)
            assert failed.code == "git_unavailable" and failed.retryable is True
            assert "got no answer" in failed.message and "within 3 s" in failed.message

        assert remote.wait_until_all_closed()  # git's helpers were ended, not left hanging


@pytest.mark.parametrize("scheme", SCHEMES)
def test_past_the_retry_window_the_silent_remote_is_answered_with_gitops_failed(
    scheme: str, tmp_path: Path
) -> None:
    """When the Broker is about to give up, the answer itself is the alert."""
    with stalled_remote() as remote:
        url = f"{scheme}://127.0.0.1:{remote.port}/gitops.git"
        published: list[events.Event] = []
        client = client_for(url, tmp_path / "cache", published, timeout_s=2, age=timedelta(hours=1))
        status, _ = post(client, completed().model_copy(update={"time": SENT}))
        assert status == 202  # the reply went to the publisher: no redelivery
        assert [e.type for e in published] == [events.GITOPS_FAILED]
        failed = events.GitopsFailed.model_validate(published[0].data)
        assert failed.code == "git_unavailable" and failed.retryable is True


def test_the_adapter_raises_git_unavailable_and_a_second_open_is_not_kept_waiting(
    tmp_path: Path,
) -> None:
    with stalled_remote() as remote:
        git = git_remote(
            f"git://127.0.0.1:{remote.port}/gitops.git", tmp_path / "cache", timeout_s=2
        )
        for _ in range(2):
            with pytest.raises(GitError) as caught, git.open():
                pass
            assert caught.value.code == "git_unavailable" and caught.value.retryable
            assert "got no answer" in caught.value.message
