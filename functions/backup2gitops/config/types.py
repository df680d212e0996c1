"""Building blocks of the configuration model: strict sections, secret references, clean URLs.

Used by ``backup2gitops.config`` and ``backup2gitops.config.receivers``; no I/O at import.

The modules that define pydantic models on every run's path (the configuration's sections, and
the core's models they hold: cleaning, drift, retention, bucket keys) write their annotations as
objects, without ``from __future__ import annotations``: pydantic would otherwise compile and
evaluate each field's annotation text as it makes the class (a model naming itself quotes
its name). tests/unit/test_model_annotations.py holds them to it.
"""

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    ValidationError,
    model_validator,
)

from backup2gitops.core.durations import Duration
from backup2gitops.core.errors import Backup2GitopsError

__all__ = [
    "Duration",
    "FieldProblem",
    "PlainUrl",
    "SecretRef",
    "Strict",
    "UrlOrSecret",
    "refuse_credentials",
]


class Strict(BaseModel):
    """A configuration section: an unknown key is an error (a typo must not pass silently).

    Its validator is built when first used (``defer_build``), not when its module is imported:
    ``config.model.validate_config`` builds the sections a file holds, and the defaults are made
    with ``model_construct`` (the values validation would make: tests/unit/test_config.py).
    """

    model_config = ConfigDict(extra="forbid", defer_build=True)


class FieldProblem(Backup2GitopsError, ValueError):
    """A check across fields that blames one of them: ``loc`` is appended to the location.

    ``raise FieldProblem("project", message="required when mode is github")`` in a model
    validator of ``git.review`` reads ``git.review.project: required when mode is github``.
    """

    code = "invalid_configuration"

    def __init__(self, *loc: str | int, message: str) -> None:
        super().__init__(message)
        self.loc = loc
        self.message = message


class SecretRef(Strict):
    """Where a credential lives: an environment variable or a mounted file. Never the value."""

    env: str | None = None
    file: Path | None = None

    @model_validator(mode="before")
    @classmethod
    def _a_reference(cls, data: Any) -> Any:
        if isinstance(data, str):  # never repeat the value: it may be the credential itself
            raise ValueError(
                "a credential is never written in the file: give {env: NAME} or {file: PATH}"
            )
        return data

    @model_validator(mode="after")
    def _one_source(self) -> "SecretRef":
        if (self.env is None) == (self.file is None):
            raise ValueError("give exactly one of 'env' or 'file'")
        return self

    def reveal(self, environ: Mapping[str, str] | None = None) -> str | None:
        """The secret's value, or None when it is not set. Callers must never log it."""
        if self.env is not None:
            value = (environ if environ is not None else os.environ).get(self.env)
            return value or None
        assert self.file is not None
        try:
            return self.file.read_text().strip() or None
        except FileNotFoundError:
            return None

    def __repr__(self) -> str:
        """Where to put the value, as a person reads it in a message (``$NAME``, ``the file
        PATH``): "the webhook token is missing ($BACKUP2GITOPS_WEBHOOK_TOKEN is not set)"."""
        return f"${self.env}" if self.env else f"the file {self.file}"


_CREDENTIAL_PARAMETERS = frozenset(
    {"token", "access_token", "api_key", "apikey", "key", "secret", "password", "sig", "signature"}
)
"""Query parameters that carry a credential (Teams workflow URLs sign with ``sig=``)."""
_USERINFO_ALLOWED = ("ssh", "git+ssh", "ssh+git")
"""Schemes where a user name alone is an account, not a credential (``ssh://git@host/...``)."""


def refuse_credentials(url: str) -> str:
    """``url`` unchanged, unless it carries a credential (``user:password@``, or any user info
    in an http(s) URL, where ``https://TOKEN@host`` is the usual way to leak a token).

    The message never repeats the URL: it would print the credential it is about.
    """
    if "://" not in url:  # a path, or scp-like ``git@host:path`` (no password possible)
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return url  # malformed URLs are left to the field's own checks
    if parts.password is not None or (
        parts.username is not None and parts.scheme.lower() not in _USERINFO_ALLOWED
    ):
        raise ValueError(
            "must not contain credentials (user:password@ in the URL); "
            "give them as a secret reference ({env: NAME} or {file: PATH}) in their own field"
        )
    secret_params = sorted(
        {name for name, _ in parse_qsl(parts.query, keep_blank_values=True)}
        & _CREDENTIAL_PARAMETERS
    )
    if secret_params:
        raise ValueError(
            f"must not carry credentials in its query ({', '.join(secret_params)}=...); "
            "when the URL itself is the secret, give the whole URL as {env: NAME} or {file: PATH}"
        )
    return url


PlainUrl = Annotated[str, AfterValidator(refuse_credentials)]
"""A URL (or path) that may be logged and put in events: credentials in it are refused."""


def _url_or_secret(value: Any) -> Any:
    """One error, not one per union member: a string is a plain URL, anything else a SecretRef."""
    if isinstance(value, str):
        return refuse_credentials(value)
    if isinstance(value, SecretRef):
        return value
    try:
        return SecretRef.model_validate(value)
    except ValidationError as exc:
        raise ValueError(exc.errors()[0]["msg"].removeprefix("Value error, ")) from None


UrlOrSecret = Annotated[str | SecretRef, BeforeValidator(_url_or_secret)]
"""A URL that is either plain (no credentials in it) or, when it is itself secret, a SecretRef."""
