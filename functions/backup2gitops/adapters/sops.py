"""Encrypting Secrets with SOPS for age recipients, in the format Flux's kustomize-controller decrypts.

Runs the ``sops`` binary (installed from github.com/getsops/sops) on the Secret as YAML. Only
``data`` and ``stringData`` are encrypted (``--encrypted-regex``), so names, labels and the type
stay reviewable. The object's YAML is fed to sops in the repository's stable key order and
sops keeps that order, so writing the result through ``core.manifest_yaml`` leaves the values,
and with them the MAC, exactly as sops computed them.

Known limit: sops uses a fresh data key and IVs each run, so an unchanged Secret still gets
new ciphertext on every backup (a diff in the Secret's file only).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from typing import Any

import yaml

from backup2gitops.core import errors, manifest_yaml


class SopsError(errors.Backup2GitopsError):
    """sops is missing, misconfigured, or failed; never retryable by waiting."""

    code = "sops_failed"


class SopsEncrypter:
    def __init__(
        self, *, recipients: Sequence[str], binary: str = "sops", timeout_s: float = 30
    ) -> None:
        if not recipients:
            raise SopsError("secrets: sops needs generator.sops_age_recipients (age public keys)")
        found = shutil.which(binary)
        if found is None:
            raise SopsError(f"secrets: sops needs the {binary!r} binary on PATH")
        self.binary = found
        self.recipients = ",".join(recipients)
        self.timeout_s = timeout_s

    def __call__(self, obj: dict[str, Any]) -> dict[str, Any]:
        name = f"{obj.get('metadata', {}).get('namespace', '')}/{obj.get('metadata', {}).get('name', '')}"
        try:
            result = subprocess.run(
                [
                    self.binary,
                    "encrypt",
                    "--age",
                    self.recipients,
                    "--encrypted-regex",
                    "^(data|stringData)$",
                    "--input-type",
                    "yaml",
                    "--output-type",
                    "yaml",
                    "/dev/stdin",
                ],
                input=manifest_yaml.dump(obj),
                capture_output=True,
                text=True,
                timeout=self.timeout_s,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise SopsError(f"sops timed out encrypting {name}") from exc
        if result.returncode != 0:
            # sops' stderr names the problem (bad recipient...) and never contains the plaintext
            raise SopsError(f"sops failed on {name}: {result.stderr.strip()[:300]}")
        encrypted = yaml.safe_load(result.stdout)
        if not isinstance(encrypted, dict) or "sops" not in encrypted:
            raise SopsError(f"sops returned no encrypted document for {name}")
        return encrypted
