"""What the repository holds for sops: a keyed digest beside each Secret's ciphertext, and the
``.sops.yaml`` rules at the repository's root.

Pure: no I/O; only the standard library and PyYAML.

sops encrypts with a fresh data key and fresh IVs on every run, so re-encrypting an unchanged
Secret gives new bytes: a diff for every Secret on every backup. The committed file cannot be
decrypted without the private key, so whether the Secret changed is told by a digest of its
plaintext kept next to the ciphertext: HMAC-SHA256 under a key from the configuration
(``generator.sops_digest_key``), never a plain hash, which would let anyone holding the
repository confirm guesses of low-entropy values (``password: hunter2``) offline.

Where it lives: the annotation ``DIGEST_ANNOTATION``, set *before* encryption. ``metadata`` is
not matched by ``ENCRYPTED_REGEX``, so the digest stays readable; and sops' MAC covers every
value of the document, encrypted or not (checked with sops 3.13: changing an unencrypted
annotation after encryption makes ``sops decrypt`` fail with "MAC mismatch"), so a digest added
after encryption would break decryption while one added before is protected by the MAC.
The digest also covers the recipients: a Secret is encrypted again when they change.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import PurePosixPath
from typing import Any, Final

import yaml

DIGEST_ANNOTATION: Final[str] = "backup2gitops.io/sops-content-hmac"
DIGEST_PREFIX: Final[str] = "hmac-sha256:"
ENCRYPTED_REGEX: Final[str] = "^(data|stringData)$"
SOPS_CONFIG: Final[PurePosixPath] = PurePosixPath(".sops.yaml")
MIN_KEY_BYTES: Final[int] = 32


def without_digest(obj: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of ``obj`` without the digest annotation (the plaintext the digest is of)."""
    clean = copy.deepcopy(dict(obj))
    annotations = clean.get("metadata", {}).get("annotations")
    if isinstance(annotations, dict) and DIGEST_ANNOTATION in annotations:
        del annotations[DIGEST_ANNOTATION]
        if not annotations:
            del clean["metadata"]["annotations"]
    return clean


def content_digest(obj: Mapping[str, Any], *, key: bytes, recipients: Sequence[str]) -> str:
    """HMAC-SHA256 of the canonical JSON of ``obj`` (without the annotation) and the recipients."""
    canonical = json.dumps(
        {"object": without_digest(obj), "recipients": sorted(recipients)},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    return DIGEST_PREFIX + hmac.new(key, canonical.encode(), hashlib.sha256).hexdigest()


def with_digest(obj: Mapping[str, Any], digest: str) -> dict[str, Any]:
    """``obj`` (a copy) carrying ``digest`` in its annotation, ready to be encrypted."""
    marked = without_digest(obj)
    metadata = marked.setdefault("metadata", {})
    metadata.setdefault("annotations", {})[DIGEST_ANNOTATION] = digest
    return marked


def reusable(previous: Mapping[str, Any] | None, digest: str) -> bool:
    """True when ``previous`` (the committed document) is a sops document of this very plaintext."""
    if not isinstance(previous, Mapping) or not isinstance(previous.get("sops"), Mapping):
        return False
    metadata = previous.get("metadata")
    annotations = metadata.get("annotations") if isinstance(metadata, Mapping) else None
    stored = annotations.get(DIGEST_ANNOTATION) if isinstance(annotations, Mapping) else None
    return isinstance(stored, str) and hmac.compare_digest(stored, digest)


def cluster_rule_regex(cluster: str) -> str:
    """The ``path_regex`` of the rule for one cluster's folder (relative to ``.sops.yaml``)."""
    return f"^clusters/{re.escape(cluster)}/.*\\.yaml$"


def sops_config(existing: bytes | None, *, cluster: str, recipients: Sequence[str]) -> bytes:
    """``.sops.yaml`` with this cluster's creation rule set, the other clusters' rules kept.

    One rule per cluster (clusters of one repository may have their own recipients), sorted by
    ``path_regex`` so that the file only changes when a rule does. A file that does not parse,
    or rules that are not a list, are replaced: the generator owns this file.
    """
    rules: dict[str, dict[str, Any]] = {}
    try:
        loaded = yaml.safe_load(existing) if existing else None
    except yaml.YAMLError:
        loaded = None
    listed = loaded.get("creation_rules") if isinstance(loaded, dict) else None
    for rule in listed if isinstance(listed, list) else []:
        if isinstance(rule, dict) and isinstance(rule.get("path_regex"), str):
            rules[rule["path_regex"]] = rule
    regex = cluster_rule_regex(cluster)
    rules[regex] = {
        "path_regex": regex,
        "encrypted_regex": ENCRYPTED_REGEX,
        "age": ",".join(recipients),
    }
    document = {"creation_rules": [rules[key] for key in sorted(rules)]}
    header = "# Written by backup2gitops: the rules `sops edit` and Flux follow for these files.\n"
    return (header + yaml.safe_dump(document, sort_keys=False, width=2**31 - 1)).encode()
