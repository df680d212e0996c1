"""Review mode: open a pull request (GitHub) or merge request (GitLab) for a backup's branch.

REST APIs through ``requests``; the token comes from a ``SecretRef`` and is sent only in the
Authorization / PRIVATE-TOKEN header. A request that already exists for the branch is found and
returned, so a redelivered backup does not open a second one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote

import requests

if TYPE_CHECKING:
    from backup2gitops.config import ReviewConfig


class ReviewError(Exception):
    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True)
class ReviewRequest:
    url: str
    number: int
    created: bool


class ReviewHost(Protocol):
    def open(self, *, branch: str, base: str, title: str, body: str) -> ReviewRequest: ...


def _check(response: requests.Response, what: str) -> Any:
    if response.status_code >= 500 or response.status_code == 429:
        raise ReviewError(f"{what}: {response.status_code}", retryable=True)
    if response.status_code >= 400:
        raise ReviewError(f"{what}: {response.status_code} {response.text[:200]}", retryable=False)
    return response.json()


class GitHubReviews:
    """POST /repos/{owner}/{repo}/pulls (422 when one exists for the branch: look it up)."""

    def __init__(
        self, *, project: str, token: str, api_url: str | None = None, timeout_s: float = 15.0
    ) -> None:
        self.base = (api_url or "https://api.github.com").rstrip("/") + f"/repos/{project}"
        self.owner = project.split("/", 1)[0]
        self.session = requests.Session()
        self.session.headers.update(
            {
                "Authorization": f"Bearer {token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28",
            }
        )
        self.timeout_s = timeout_s

    def open(self, *, branch: str, base: str, title: str, body: str) -> ReviewRequest:
        try:
            response = self.session.post(
                f"{self.base}/pulls",
                json={"title": title, "head": branch, "base": base, "body": body},
                timeout=self.timeout_s,
            )
            if response.status_code == 422:  # "A pull request already exists for ..."
                found = _check(
                    self.session.get(
                        f"{self.base}/pulls",
                        params={"head": f"{self.owner}:{branch}", "state": "open"},
                        timeout=self.timeout_s,
                    ),
                    "GitHub list pulls",
                )
                if found:
                    return ReviewRequest(found[0]["html_url"], found[0]["number"], created=False)
            pull = _check(response, "GitHub create pull request")
        except requests.RequestException as exc:
            raise ReviewError(f"GitHub unreachable: {type(exc).__name__}", retryable=True) from exc
        return ReviewRequest(pull["html_url"], pull["number"], created=True)


class GitLabReviews:
    """POST /projects/{id}/merge_requests (409 when one exists for the branch: look it up)."""

    def __init__(
        self, *, project: str, token: str, api_url: str | None = None, timeout_s: float = 15.0
    ) -> None:
        api = (api_url or "https://gitlab.com/api/v4").rstrip("/")
        self.base = f"{api}/projects/{quote(project, safe='')}"
        self.session = requests.Session()
        self.session.headers.update({"PRIVATE-TOKEN": token})
        self.timeout_s = timeout_s

    def open(self, *, branch: str, base: str, title: str, body: str) -> ReviewRequest:
        try:
            response = self.session.post(
                f"{self.base}/merge_requests",
                json={
                    "source_branch": branch,
                    "target_branch": base,
                    "title": title,
                    "description": body,
                    "remove_source_branch": True,
                },
                timeout=self.timeout_s,
            )
            if response.status_code == 409:  # "Another open merge request already exists"
                found = _check(
                    self.session.get(
                        f"{self.base}/merge_requests",
                        params={"source_branch": branch, "state": "opened"},
                        timeout=self.timeout_s,
                    ),
                    "GitLab list merge requests",
                )
                if found:
                    return ReviewRequest(found[0]["web_url"], found[0]["iid"], created=False)
            merge = _check(response, "GitLab create merge request")
        except requests.RequestException as exc:
            raise ReviewError(f"GitLab unreachable: {type(exc).__name__}", retryable=True) from exc
        return ReviewRequest(merge["web_url"], merge["iid"], created=True)


def review_host(config: ReviewConfig, *, environ: Mapping[str, str]) -> ReviewHost | None:
    """The host review mode opens requests on, or None when review mode is off."""
    if config.mode == "none":
        return None
    token = config.token.reveal(environ)
    if not token or not config.project:
        raise ReviewError(
            "git.review needs a project and a token (git.review.token)", retryable=False
        )
    host = GitHubReviews if config.mode == "github" else GitLabReviews
    return host(project=config.project, token=token, api_url=config.api_url)


def review_branch(*, cluster: str, backup_id: str) -> str:
    return f"backup2gitops/{cluster}/{backup_id}"
