"""Where a commit can be seen in a browser, when the GitOps remote is on a known forge.

Pure: no I/O. The remote is ``git.url`` (https, http, ssh://, ``user@host:path``, git://); a
local path or an unknown host has no page, so there is no link. Userinfo never survives: the
link is rebuilt from the host and the repository path only, so a token written into the URL
(``https://TOKEN@github.com/...``) cannot reach a page, an event or a log.

Commit page patterns (each forge's own URL scheme, as their web UIs link commits):

| forge | hosts | commit page |
|---|---|---|
| GitHub (and GitHub Enterprise) | ``github.com``, ``github.*`` | ``/<owner>/<repo>/commit/<sha>`` |
| GitLab | ``gitlab.com``, ``gitlab.*`` | ``/<group>[/<subgroup>...]/<project>/-/commit/<sha>`` |
| Bitbucket Cloud | ``bitbucket.org`` | ``/<workspace>/<repo>/commits/<sha>`` |
| Gitea / Forgejo | ``codeberg.org``, ``gitea.*``, ``forgejo.*`` | ``/<owner>/<repo>/commit/<sha>`` |
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote, urlsplit

Forge = Literal["github", "gitlab", "bitbucket", "gitea"]

_SCP_LIKE = re.compile(r"^(?:[^@/:]+@)?(?P<host>[A-Za-z0-9.-]+):(?P<path>(?!/)[^\s]+)$")
_COMMIT = re.compile(r"^[0-9a-f]{7,64}$")
_SEGMENT = re.compile(r"^[A-Za-z0-9._~-]+$")
_EXACT: dict[str, Forge] = {
    "github.com": "github",
    "gitlab.com": "gitlab",
    "bitbucket.org": "bitbucket",
    "codeberg.org": "gitea",
}
_COMMIT_PAGE: dict[Forge, str] = {
    "github": "commit",
    "gitlab": "-/commit",
    "bitbucket": "commits",
    "gitea": "commit",
}
_PREFIXES: tuple[tuple[str, Forge], ...] = (
    ("github.", "github"),
    ("gitlab.", "gitlab"),
    ("gitea.", "gitea"),
    ("forgejo.", "gitea"),
)


@dataclass(frozen=True)
class Repository:
    """A repository on a forge: its web base (``https://host/owner/repo``), no credentials."""

    forge: Forge
    web_url: str

    def commit_url(self, commit: str) -> str | None:
        if not _COMMIT.match(commit):
            return None
        return f"{self.web_url}/{_COMMIT_PAGE[self.forge]}/{commit}"


def forge_of(host: str) -> Forge | None:
    host = host.lower()
    if host in _EXACT:
        return _EXACT[host]
    return next((forge for prefix, forge in _PREFIXES if host.startswith(prefix)), None)


def _host_and_path(remote: str) -> tuple[str, str, str] | None:
    """(scheme of the web page, host without userinfo or ssh port, repository path)."""
    if "://" in remote:
        parts = urlsplit(remote)
        if parts.scheme not in ("https", "http", "ssh", "git", "git+ssh", "ssh+git"):
            return None
        host = parts.hostname or ""
        web_host = host
        if parts.scheme in ("https", "http") and parts.port:
            web_host = f"{host}:{parts.port}"
        scheme = "http" if parts.scheme == "http" else "https"
        return scheme, web_host, parts.path
    scp = _SCP_LIKE.match(remote)
    if scp is None:
        return None
    return "https", scp["host"].lower(), scp["path"]


def repository(remote: str) -> Repository | None:
    """The forge repository ``remote`` names, or None (a local path, an unknown host)."""
    found = _host_and_path(remote.strip())
    if found is None:
        return None
    scheme, host, path = found
    forge = forge_of(host.split(":", 1)[0])
    if forge is None:
        return None
    path = path.strip("/")
    path = path.removesuffix(".git")
    segments = path.split("/")
    if not all(_SEGMENT.match(s) for s in segments):
        return None
    if len(segments) < 2 or (forge != "gitlab" and len(segments) != 2):
        return None
    return Repository(forge, f"{scheme}://{host}/" + "/".join(quote(s) for s in segments))


def commit_url(remote: str, commit: str) -> str | None:
    """The commit's web page on its forge, or None."""
    found = repository(remote)
    return found.commit_url(commit) if found else None
