"""The configuration of the GitOps repository (``git``): the remote, the author, credentials,
deadlines, and the review mode that opens a pull or merge request instead of pushing the branch.

One strict section per part of the file; the root ``Config`` is ``config.model``'s.
"""

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from backup2gitops.config.types import FieldProblem, PlainUrl, SecretRef, Strict


class ReviewConfig(Strict):
    mode: Literal["none", "github", "gitlab"] = "none"
    api_url: PlainUrl | None = None
    project: str | None = Field(default=None, description="owner/repo (GitHub) or project id/path")
    token: SecretRef = SecretRef.model_construct(env="BACKUP2GITOPS_REVIEW_TOKEN")

    @model_validator(mode="after")
    def _project_for_mode(self) -> "ReviewConfig":
        if self.mode != "none" and not self.project:
            what = "owner/repo" if self.mode == "github" else "the project id or path"
            raise FieldProblem("project", message=f"required when mode is {self.mode} ({what})")
        return self


class GitConfig(Strict):
    url: PlainUrl = Field(
        default="./gitops.git",
        description="path, file://, https:// or ssh remote; the token goes in git.token",
    )
    branch: str = "main"
    author_name: str = "backup2gitops"
    author_email: str = "backup2gitops@localhost"
    token: SecretRef = SecretRef.model_construct(env="BACKUP2GITOPS_GIT_TOKEN")
    token_user: str = Field(default="x-access-token", description="HTTPS user for the token")
    push_attempts: int = Field(default=5, ge=1, le=50)
    cache_dir: Path | None = Field(default=None, description="where working clones live")
    timeout_s: float = Field(
        default=120.0,
        gt=0,
        le=3600,
        description="deadline of each git command; past it git is killed: git_unavailable",
    )
    low_speed_time_s: int = Field(
        default=30, ge=1, le=3600, description="an HTTP transfer under 1 KB/s this long is ended"
    )
    race_window_s: float = Field(
        default=600.0,
        gt=0,
        le=3600,
        description="how long pushes that lost a race to another cluster's are retried",
    )
    review: ReviewConfig = ReviewConfig.model_construct()
