"""The sops adapter's error (``adapters.sops``), apart from it: a caller catches it without
importing the encrypter and PyYAML, which only a cluster whose Secrets are encrypted needs."""

from __future__ import annotations

from backup2gitops.core import errors


class SopsError(errors.Backup2GitopsError):
    """sops is missing, misconfigured, or failed; never retryable by waiting."""

    code = "sops_failed"
