"""core.forge: a commit's web page on a known forge, never with the remote's credentials."""

from __future__ import annotations

import pytest

from backup2gitops.core import forge

SHA = "0123456789abcdef0123456789abcdef01234567"


@pytest.mark.parametrize(
    ("remote", "page"),
    [
        ("https://github.com/acme/clusters.git", f"https://github.com/acme/clusters/commit/{SHA}"),
        ("https://github.com/acme/clusters", f"https://github.com/acme/clusters/commit/{SHA}"),
        ("git@github.com:acme/clusters.git", f"https://github.com/acme/clusters/commit/{SHA}"),
        (
            "ssh://git@github.com:22/acme/clusters.git",
            f"https://github.com/acme/clusters/commit/{SHA}",
        ),
        (
            "https://x-access-token:ghp_SECRET@github.com/acme/clusters.git",
            f"https://github.com/acme/clusters/commit/{SHA}",
        ),
        (
            "https://ghp_SECRET@github.com/acme/clusters.git",
            f"https://github.com/acme/clusters/commit/{SHA}",
        ),
        (
            "https://github.example.com/acme/clusters.git",
            f"https://github.example.com/acme/clusters/commit/{SHA}",
        ),
        (
            "https://gitlab.com/platform/infra/clusters.git",
            f"https://gitlab.com/platform/infra/clusters/-/commit/{SHA}",
        ),
        (
            "https://oauth2:glpat-SECRET@gitlab.example.org:8443/p/clusters.git",
            f"https://gitlab.example.org:8443/p/clusters/-/commit/{SHA}",
        ),
        (
            "git@bitbucket.org:team/clusters.git",
            f"https://bitbucket.org/team/clusters/commits/{SHA}",
        ),
        (
            "https://codeberg.org/ops/clusters.git",
            f"https://codeberg.org/ops/clusters/commit/{SHA}",
        ),
        (
            "http://gitea.lan/ops/clusters.git",
            f"http://gitea.lan/ops/clusters/commit/{SHA}",
        ),
        (
            "ssh://git@forgejo.example.net/ops/clusters",
            f"https://forgejo.example.net/ops/clusters/commit/{SHA}",
        ),
    ],
)
def test_known_forges_link_the_commit(remote: str, page: str) -> None:
    assert forge.commit_url(remote, SHA) == page


@pytest.mark.parametrize(
    "remote",
    [
        "./gitops.git",
        "/srv/git/clusters.git",
        "file:///srv/git/clusters.git",
        "https://git.example.com/platform/clusters.git",  # unknown host: no guess
        "https://github.com/acme",  # not a repository
        "https://github.com/acme/clusters/extra",  # GitHub repositories have two segments
        "https://github.com/acme/clu%22sters.git",  # nothing outside a path segment's characters
        "javascript:alert(1)",
        "",
    ],
)
def test_no_link_without_a_known_forge_repository(remote: str) -> None:
    assert forge.commit_url(remote, SHA) is None


@pytest.mark.parametrize("commit", ["", "HEAD", "0123456", "../../x", SHA.upper()])
def test_only_a_commit_id_is_linked(commit: str) -> None:
    url = forge.commit_url("https://github.com/acme/clusters.git", commit)
    assert url is None or url.endswith("/commit/0123456")


def test_credentials_never_reach_the_link() -> None:
    remote = "https://user:hunter2-SECRET@gitlab.com/a/b.git"
    url = forge.commit_url(remote, SHA)
    assert url is not None and "SECRET" not in url and "@" not in url and "user" not in url
