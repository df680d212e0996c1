"""Review mode: open a pull request (GitHub) or merge request (GitLab) for a backup's branch.

REST APIs through ``requests``; the token comes from a ``SecretRef`` and is sent only in the
Authorization / PRIVATE-TOKEN header. A request that already exists for the branch is found and
returned, so a redelivered backup does not open a second one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
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


def _open_or_find(
    *,
    create: Callable[[], requests.Response],
    exists_status: int,
    find: Callable[[], requests.Response],
    host: str,
    url_key: str,
    number_key: str,
) -> ReviewRequest:
    """Create the request; when the host says one already exists for the branch, find it."""
    try:
        response = create()
        if response.status_code == exists_status:
            found = _check(find(), f"{host}: list open requests")
            if found:
                return ReviewRequest(found[0][url_key], found[0][number_key], created=False)
        made = _check(response, f"{host}: create request")
    except requests.RequestException as exc:
        raise ReviewError(f"{host} unreachable: {type(exc).__name__}", retryable=True) from exc
    return ReviewRequest(made[url_key], made[number_key], created=True)


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
        pulls = f"{self.base}/pulls"
        return _open_or_find(
            create=lambda: self.session.post(
                pulls,
                json={"title": title, "head": branch, "base": base, "body": body},
                timeout=self.timeout_s,
            ),
            exists_status=422,  # "A pull request already exists for ..."
            find=lambda: self.session.get(
                pulls,
                params={"head": f"{self.owner}:{branch}", "state": "open"},
                timeout=self.timeout_s,
            ),
            host="GitHub",
            url_key="html_url",
            number_key="number",
        )


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
        merges = f"{self.base}/merge_requests"
        return _open_or_find(
            create=lambda: self.session.post(
                merges,
                json={
                    "source_branch": branch,
                    "target_branch": base,
                    "title": title,
                    "description": body,
                    "remove_source_branch": True,
                },
                timeout=self.timeout_s,
            ),
            exists_status=409,  # "Another open merge request already exists for this source branch"
            find=lambda: self.session.get(
                merges, params={"source_branch": branch, "state": "opened"}, timeout=self.timeout_s
            ),
            host="GitLab",
            url_key="web_url",
            number_key="iid",
        )


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
