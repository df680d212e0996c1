"""Review mode: a branch per backup and a pull/merge request, against a real bare remote and a
local HTTP server answering as GitHub's and GitLab's REST APIs document."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import flask
import pytest

from backup2gitops.adapters.storage import MemoryStore
from backup2gitops.config import Config, GitConfig, ReviewConfig, SecretRef
from backup2gitops.core import events
from backup2gitops.runtime.context import FunctionContext
from backup2gitops.runtime.http import handle_request
from gitops_generator.handler import SPEC
from tests.functional.test_gitops_generator import ARCHIVE, KEY, completed, post
from tests.git_repos import bare_repository, git_dir_output
from tests.recording import Recorder

BRANCH = "backup2gitops/prod/b1"


def git(remote: Path, *args: str) -> str:
    return git_dir_output(remote, *args).strip()


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    bare = tmp_path / "remote.git"
    bare_repository(bare)
    seed = tmp_path / "seed"
    subprocess.run(["git", "clone", "-q", str(bare), str(seed)], check=True, capture_output=True)
    subprocess.run(
        [
            "git",
            "-C",
            str(seed),
            "-c",
            "user.name=a",
            "-c",
            "user.email=a@b",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "init",
        ],
        check=True,
    )
    subprocess.run(
        ["git", "-C", str(seed), "push", "-q", "origin", "main"], check=True, capture_output=True
    )
    return bare


def client_for(tmp_path: Path, remote: Path, review: ReviewConfig) -> Any:
    store = MemoryStore("backups")
    store.put_bytes(KEY, ARCHIVE)
    config = Config(git=GitConfig(url=str(remote), cache_dir=tmp_path / "cache", review=review))
    ctx = FunctionContext(config, store=store, environ={"REVIEW_TOKEN": "t0k3n"})
    app = flask.Flask("g")
    app.add_url_rule("/", "f", lambda: handle_request(SPEC, flask.request, ctx), methods=["POST"])
    return app.test_client()


def test_github_pull_request_for_the_backup_branch_and_main_untouched(
    tmp_path: Path, remote: Path, recorder: Recorder
) -> None:
    pulls = "/repos/acme/clusters/pulls"
    recorder.reply(
        pulls,
        (201, json.dumps({"html_url": "https://gh/acme/clusters/pull/7", "number": 7})),
        (422, json.dumps({"message": "A pull request already exists"})),
    )
    recorder.reply(
        f"{pulls}?head=acme%3A{BRANCH.replace('/', '%2F')}&state=open",
        (200, json.dumps([{"html_url": "https://gh/acme/clusters/pull/7", "number": 7}])),
    )
    review = ReviewConfig(
        mode="github",
        api_url=recorder.url,
        project="acme/clusters",
        token=SecretRef(env="REVIEW_TOKEN"),
    )
    client = client_for(tmp_path, remote, review)
    main_before = git(remote, "rev-parse", "main")

    status, reply = post(client, completed())
    assert status == 200 and reply is not None and reply.type == events.GITOPS_GENERATED
    data = events.GitopsGenerated.model_validate(reply.data)
    assert data.review_url == "https://gh/acme/clusters/pull/7" and data.branch == BRANCH
    assert git(remote, "rev-parse", "main") == main_before
    assert "Backup-Id: b1" in git(remote, "log", "-1", "--format=%B", BRANCH)
    assert git(remote, "rev-parse", f"{BRANCH}~1") == main_before  # on top of main

    request = recorder.to(pulls)[0]
    assert request.headers["Authorization"] == "Bearer t0k3n"
    body = request.json()
    assert (body["head"], body["base"]) == (BRANCH, "main")
    assert body["title"] == "prod: backup b1" and "ConfigMap in shop: 1" in body["body"]

    status, again = post(client, completed())  # redelivery: no new commit, the same request
    assert again is not None
    repeat = events.GitopsGenerated.model_validate(again.data)
    assert repeat.noop and repeat.review_url == data.review_url
    assert git(remote, "rev-list", "--count", BRANCH) == "2"


def test_gitlab_merge_request_found_when_it_already_exists(
    tmp_path: Path, remote: Path, recorder: Recorder
) -> None:
    merges = "/api/v4/projects/platform%2Fclusters/merge_requests"
    recorder.reply(merges, (409, json.dumps({"message": ["Another open merge request"]})))
    recorder.reply(
        f"{merges}?source_branch={BRANCH.replace('/', '%2F')}&state=opened",
        (200, json.dumps([{"web_url": "https://gl/mr/3", "iid": 3}])),
    )
    review = ReviewConfig(
        mode="gitlab",
        api_url=recorder.url + "/api/v4",
        project="platform/clusters",
        token=SecretRef(env="REVIEW_TOKEN"),
    )
    _, reply = post(client_for(tmp_path, remote, review), completed())
    assert reply is not None
    assert events.GitopsGenerated.model_validate(reply.data).review_url == "https://gl/mr/3"
    request = recorder.to(merges)[0]
    assert request.headers["PRIVATE-TOKEN"] == "t0k3n"
    assert request.json()["source_branch"] == BRANCH and request.json()["target_branch"] == "main"


@pytest.mark.parametrize(("status", "retryable"), [(401, False), (502, True)])
def test_review_api_failures_are_reported_truthfully(
    tmp_path: Path, remote: Path, recorder: Recorder, status: int, retryable: bool
) -> None:
    recorder.reply("/repos/acme/clusters/pulls", (status, "{}"))
    review = ReviewConfig(
        mode="github",
        api_url=recorder.url,
        project="acme/clusters",
        token=SecretRef(env="REVIEW_TOKEN"),
    )
    _, reply = post(client_for(tmp_path, remote, review), completed())
    assert reply is not None and reply.type == events.GITOPS_FAILED
    failed = events.GitopsFailed.model_validate(reply.data)
    assert failed.code == "review_failed" and failed.retryable is retryable
    assert "t0k3n" not in failed.message
