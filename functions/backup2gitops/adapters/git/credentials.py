"""Credentials: a token reaches git as an HTTP header in the child's environment, never in a
URL, a command line, ``.git/config``, a log line or an event; remotes are shown without them."""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote, urlsplit, urlunsplit

if TYPE_CHECKING:
    from backup2gitops.config import GitConfig


_USERINFO = re.compile(r"(://)[^/@\s]+@")


def display_url(url: str) -> str:
    """The remote without credentials, safe to log and to put in events."""
    parts = urlsplit(url)
    if parts.scheme in ("http", "https", "ssh", "git") and "@" in parts.netloc:
        host = parts.netloc.rsplit("@", 1)[1]
        user = parts.netloc.rsplit("@", 1)[0].split(":", 1)[0]
        netloc = f"{user}@{host}" if parts.scheme == "ssh" else host
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return url


def redact(text: str, *secrets: str | None) -> str:
    """``text`` with any URL userinfo and each of ``secrets`` (raw or URL-quoted) masked."""
    text = _USERINFO.sub(r"\1***@", text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
            text = text.replace(quote(secret, safe=""), "***")
    return text


def credential_env(token: str | None, user: str = "x-access-token") -> dict[str, str]:
    """Environment for a git child process: no prompts, and the token (if any) as an HTTP
    Authorization header, so it never appears in a URL, a command line or ``.git/config``."""
    env = {"GIT_TERMINAL_PROMPT": "0"}
    if token:
        basic = base64.b64encode(f"{user}:{token}".encode()).decode()
        env.update(
            GIT_CONFIG_COUNT="1",
            GIT_CONFIG_KEY_0="http.extraHeader",
            GIT_CONFIG_VALUE_0=f"Authorization: Basic {basic}",
        )
    return env


def split_credentials(url: str) -> tuple[str, str | None, str | None]:
    """An http(s) URL without its userinfo, and what the userinfo held: (url, user, secret).

    ``https://user:TOKEN@host/r.git`` -> user and TOKEN; ``https://TOKEN@host/r.git`` (the
    token-as-user form GitHub and GitLab accept) -> no user, TOKEN. The secret then travels as
    an Authorization header (``credential_env``), never in ``.git/config`` or a command line.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or "@" not in parts.netloc:
        return url, None, None
    userinfo, host = parts.netloc.rsplit("@", 1)
    user, colon, password = userinfo.partition(":")
    clean = urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
    if colon:
        return clean, unquote(user) or None, unquote(password) or None
    return clean, None, unquote(user) or None


def remote_access(config: GitConfig, environ: Mapping[str, str]) -> tuple[str, str | None]:
    """The remote's URL and its token (for ``secret=``: sent as a header, redacted from text).
    A token written into ``git.url`` is taken out of it (``split_credentials``)."""
    url, _, embedded = split_credentials(config.url)
    return url, config.token.reveal(environ) or embedded
