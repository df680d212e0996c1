"""Encrypting Secrets with SOPS for age recipients, in the format Flux's kustomize-controller decrypts.

Runs the ``sops`` binary (installed from github.com/getsops/sops) on the Secret as YAML. Only
``data`` and ``stringData`` are encrypted (``--encrypted-regex``), so names, labels and the type
stay reviewable. The object's YAML is fed to sops in the repository's stable key order and
sops keeps that order, so writing the result through ``core.kube_yaml`` leaves the values,
and with them the MAC, exactly as sops computed them.

sops uses a fresh data key and IVs each run, so an unchanged Secret would get new ciphertext on
every backup. Each Secret therefore carries a keyed digest of its plaintext
(``core.sops_files``, HMAC-SHA256 under ``generator.sops_digest_key``), encrypted with it and
covered by sops' MAC; when the committed document's digest equals the new plaintext's, that
document is returned as it is and the file keeps its bytes.
"""

from __future__ import annotations

import hashlib
import hmac
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import yaml

from backup2gitops.adapters.sops_error import SopsError
from backup2gitops.core import kube_yaml, sops_files

if TYPE_CHECKING:
    from backup2gitops.config import GeneratorConfig


class SopsEncrypter:
    def __init__(
        self,
        *,
        recipients: Sequence[str],
        digest_key: bytes,
        binary: str = "sops",
        timeout_s: float = 30,
    ) -> None:
        if not recipients:
            raise SopsError("secrets: sops needs generator.sops_age_recipients (age public keys)")
        if len(digest_key) < sops_files.MIN_KEY_BYTES:
            raise SopsError(
                f"secrets: sops needs generator.sops_digest_key of {sops_files.MIN_KEY_BYTES} "
                f"bytes or more (got {len(digest_key)})"
            )
        found = shutil.which(binary)
        if found is None:
            raise SopsError(f"secrets: sops needs the {binary!r} binary on PATH")
        self.binary = found
        self.recipient_list = list(recipients)
        self.recipients = ",".join(recipients)
        self._digest_key = digest_key
        self.timeout_s = timeout_s

    @property
    def key_fingerprint(self) -> str:
        """Names the digest key without revealing it (HMAC of a fixed label under the key):
        the generator's member cache is void when the key changes."""
        label = b"backup2gitops member cache"
        return hmac.new(self._digest_key, label, hashlib.sha256).hexdigest()[:32]

    def __call__(
        self, obj: dict[str, Any], *, previous: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """``obj`` encrypted; ``previous`` (the committed document) as it is when it holds the
        same plaintext for the same recipients."""
        digest = sops_files.content_digest(
            obj, key=self._digest_key, recipients=self.recipient_list
        )
        if previous is not None and sops_files.reusable(previous, digest):
            return dict(previous)
        return self._encrypt(sops_files.with_digest(obj, digest))

    def _encrypt(self, obj: dict[str, Any]) -> dict[str, Any]:
        name = f"{obj.get('metadata', {}).get('namespace', '')}/{obj.get('metadata', {}).get('name', '')}"
        try:
            result = subprocess.run(
                [
                    self.binary,
                    "encrypt",
                    "--age",
                    self.recipients,
                    "--encrypted-regex",
                    sops_files.ENCRYPTED_REGEX,
                    "--input-type",
                    "yaml",
                    "--output-type",
                    "yaml",
                    "/dev/stdin",
                ],
                input=kube_yaml.dump(obj),
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


def encrypter_for(
    generator: GeneratorConfig, *, environ: Mapping[str, str] | None = None
) -> SopsEncrypter | None:
    """The encrypter the configuration asks for (None unless ``cleaning.secrets`` is sops)."""
    if not generator.encrypts:
        return None
    ref = generator.sops_digest_key
    key = ref.reveal(environ) if ref is not None else None
    if key is None:
        raise SopsError(f"generator.sops_digest_key is not set ({ref!r} holds nothing)")
    return SopsEncrypter(recipients=generator.sops_age_recipients, digest_key=key.encode())
