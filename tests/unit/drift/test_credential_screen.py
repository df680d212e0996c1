"""The credential scan's screen (``catalogue._may_match_a_pattern``) skips the patterns only
where none of them can match: ``_credential_in`` with it answers as the patterns asked one by
one, on values that hold each credential, its literal part alone, other cases, and Unicode's
case look-alikes."""

from __future__ import annotations

import random

from backup2gitops.core.drift import catalogue

VALUES = [
    "",
    " ",
    "info",
    "server.port=8080\nfeature.11=on\ncache.size=64\n",
    "-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----",
    "-----BEGIN PRIVATE KEY BLOCK-----",
    "-----begin private key-----",
    "AKIAABCDEFGHIJKLMNOP",
    "id ASIA0123456789ABCDEF end",
    "akiaabcdefxyijklmnop",
    "ghp_" + "a" * 36,
    "GHP_" + "a" * 36,
    "xoxb-0123456789-abc",
    "XOXB-0123456789-abc",
    "postgres://user:hunter22@db:5432/app",
    "POSTGRES://USER:HUNTER22@DB",
    "db.password = hunter22word",
    "DB.PASSWORD: hunter22word",
    "client_secret=abcdefxy",
    "API_KEY=abcdefxy",
    "api-key: 'abcdefxy'",
    "access_key=abcdefxy",
    "token: abcdef",
    "ToKeN=abcdefxy",
    "\u017fecret=abcdefxy",  # long s: IGNORECASE takes it for an s
    "api_\u212aey=abcdefxy",  # Kelvin sign: for a k
    "\u0131\u0130 token=abcdefxy",
    "p\u0430ssword=abcdefxy",  # a Cyrillic a
    "pass word=abcdefxy",
    "gh",
    "xox",
    "://",
    "passw",
    "apI",
]
NAMES = ["", "LOG_LEVEL", "DB_PASSWORD", "api_token", "secret_file", "TOKEN_TTL", "name"]


def unscreened(name: str, value: object) -> str | None:
    """``_credential_in`` asking every pattern (no screen)."""
    if not isinstance(value, str) or not value.strip():
        return None
    patterns = catalogue.credential_patterns()
    for what, pattern in patterns.content:
        if pattern.search(value):
            return what
    if (
        patterns.name.search(name)
        and not patterns.not_name.search(name)
        and not patterns.not_value.fullmatch(value.strip())
    ):
        return "a credential-like literal"
    return None


def test_the_screened_scan_finds_what_every_pattern_finds() -> None:
    found = set()
    for name in NAMES:
        for value in [*VALUES, None, 5, "true"]:
            expected = unscreened(name, value)
            assert catalogue._credential_in(name, value) == expected, (name, value)
            found.add(expected)
    assert {
        what for what, _ in catalogue.credential_patterns().content
    } <= found  # each one matched


def test_the_screened_scan_finds_what_every_pattern_finds_on_random_text() -> None:
    rng = random.Random(11)  # noqa: S311 - a seeded corpus, replayable
    alphabet = "aAbBcdeEgGhHiIkKoOpPrRsStTuwWxXyY0123456789 _-.:=/@'\"\n\u017f\u212a\u0131"
    pieces = ["passw", "secret", "token", "api", "access", "key", "://", "gh", "xox", "AKIA"]
    for _ in range(4000):
        value = "".join(
            rng.choice(pieces) if rng.random() < 0.2 else rng.choice(alphabet)
            for _ in range(rng.randint(1, 40))
        )
        assert catalogue._credential_in("x", value) == unscreened("x", value), value
