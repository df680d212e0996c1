"""Review mode: open a pull request (GitHub) or merge request (GitLab) for a backup's branch.

REST APIs through ``requests``; the token comes from a ``SecretRef`` and is sent only in the
Authorization / PRIVATE-TOKEN header. A request that already exists for the branch is found and
returned, so a redelivered backup does not open a second one.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote

import requests

from backup2gitops.core import errors

if TYPE_CHECKING:
    from backup2gitops.config import ReviewConfig


class ReviewError(errors.Backup2GitopsError):
    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message, code="review_failed", permanent=not retryable)


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


class ForgeReviews(ABC):
    """One host's review requests over its REST API: create one for the branch; when the host
    answers ``exists_status`` (one is already open for it), find that one instead. A host says
    where its requests live, what it calls their fields and how it is asked; the rest is here."""

    host = ""
    exists_status = 0
    url_key = ""
    number_key = ""

    def __init__(self, *, requests_url: str, headers: Mapping[str, str], timeout_s: float) -> None:
        self.requests_url = requests_url
        self.session = requests.Session()
        self.session.headers.update(headers)
        self.timeout_s = timeout_s

    @abstractmethod
    def new_request(self, *, branch: str, base: str, title: str, body: str) -> dict[str, Any]:
        """The body that asks the host for a request of ``branch`` into ``base``."""

    @abstractmethod
    def open_requests_of(self, branch: str) -> dict[str, str]:
        """The query that lists the open requests of ``branch``."""

    def open(self, *, branch: str, base: str, title: str, body: str) -> ReviewRequest:
        """Create the request; when the host says one already exists for the branch, find it."""
        asked = self.new_request(branch=branch, base=base, title=title, body=body)
        try:
            response = self.session.post(self.requests_url, json=asked, timeout=self.timeout_s)
            if response.status_code == self.exists_status:
                find = self.session.get(
                    self.requests_url, params=self.open_requests_of(branch), timeout=self.timeout_s
                )
                found = _check(find, f"{self.host}: list open requests")
                if found:
                    return ReviewRequest(
                        found[0][self.url_key], found[0][self.number_key], created=False
                    )
            created = _check(response, f"{self.host}: create request")
        except requests.RequestException as exc:
            raise ReviewError(
                f"{self.host} unreachable: {type(exc).__name__}", retryable=True
            ) from exc
        return ReviewRequest(created[self.url_key], created[self.number_key], created=True)


class GitHubReviews(ForgeReviews):
    """POST /repos/{owner}/{repo}/pulls (422 when one exists for the branch: look it up)."""

    host = "GitHub"
    exists_status = 422  # "A pull request already exists for ..."
    url_key = "html_url"
    number_key = "number"

    def __init__(
        self, *, project: str, token: str, api_url: str | None = None, timeout_s: float = 15.0
    ) -> None:
        api = (api_url or "https://api.github.com").rstrip("/")
        super().__init__(
            requests_url=f"{api}/repos/{project}/pulls",
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28",
            },
            timeout_s=timeout_s,
        )
        self.owner = project.split("/", 1)[0]

    def new_request(self, *, branch: str, base: str, title: str, body: str) -> dict[str, Any]:
        return {"title": title, "head": branch, "base": base, "body": body}

    def open_requests_of(self, branch: str) -> dict[str, str]:
        return {"head": f"{self.owner}:{branch}", "state": "open"}


class GitLabReviews(ForgeReviews):
    """POST /projects/{id}/merge_requests (409 when one exists for the branch: look it up)."""

    host = "GitLab"
    exists_status = 409  # "Another open merge request already exists for this source branch"
    url_key = "web_url"
    number_key = "iid"

    def __init__(
        self, *, project: str, token: str, api_url: str | None = None, timeout_s: float = 15.0
    ) -> None:
        api = (api_url or "https://gitlab.com/api/v4").rstrip("/")
        super().__init__(
            requests_url=f"{api}/projects/{quote(project, safe='')}/merge_requests",
            headers={"PRIVATE-TOKEN": token},
            timeout_s=timeout_s,
        )

    def new_request(self, *, branch: str, base: str, title: str, body: str) -> dict[str, Any]:
        return {
            "source_branch": branch,
            "target_branch": base,
            "title": title,
            "description": body,
            "remove_source_branch": True,
        }

    def open_requests_of(self, branch: str) -> dict[str, str]:
        return {"source_branch": branch, "state": "opened"}


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
