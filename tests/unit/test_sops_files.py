"""``core.sops_files``: the keyed digest beside a Secret's ciphertext and the ``.sops.yaml`` rules."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import yaml

from backup2gitops.core import sops_files

SECRET: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Secret",
    "metadata": {"name": "db", "namespace": "payments"},
    "data": {"password": "aHVudGVyMg=="},
}
KEY = b"k" * 32
RECIPIENTS = ["age1aaaaaaaaaaaaaaaaaaaaaaaaaa"]


def digest(obj: dict[str, Any], *, key: bytes = KEY, recipients: list[str] = RECIPIENTS) -> str:
    return sops_files.content_digest(obj, key=key, recipients=recipients)


def test_the_digest_is_keyed_not_a_plain_hash_and_covers_content_and_recipients() -> None:
    value = digest(SECRET)
    assert value.startswith("hmac-sha256:")
    plain = hashlib.sha256(json.dumps(SECRET, sort_keys=True).encode()).hexdigest()
    assert plain not in value
    assert digest(SECRET, key=b"x" * 32) != value
    assert digest({**SECRET, "data": {"password": "b3RoZXI="}}) != value
    assert digest(SECRET, recipients=["age1bbbbbbbbbbbbbbbbbbbbbbbbbb"]) != value
    assert digest({**SECRET, "metadata": dict(reversed(SECRET["metadata"].items()))}) == value


def test_the_digest_ignores_its_own_annotation() -> None:
    marked = sops_files.with_digest(SECRET, digest(SECRET))
    assert marked["metadata"]["annotations"] == {sops_files.DIGEST_ANNOTATION: digest(SECRET)}
    assert digest(marked) == digest(SECRET)
    assert sops_files.without_digest(marked) == SECRET
    assert "annotations" not in SECRET["metadata"]  # copies: the input is never changed


def test_reusable_only_for_a_sops_document_with_the_same_digest() -> None:
    value = digest(SECRET)
    committed = {**sops_files.with_digest(SECRET, value), "sops": {"mac": "ENC[...]"}}
    assert sops_files.reusable(committed, value)
    assert not sops_files.reusable(committed, digest({**SECRET, "data": {}}))
    assert not sops_files.reusable(sops_files.with_digest(SECRET, value), value)  # not encrypted
    assert not sops_files.reusable({**SECRET, "sops": {"mac": "x"}}, value)  # no digest
    assert not sops_files.reusable(None, value)


def test_sops_config_keeps_other_clusters_rules_and_replaces_this_ones() -> None:
    first = sops_files.sops_config(None, cluster="prod", recipients=["age1p"])
    both = sops_files.sops_config(first, cluster="dev", recipients=["age1d", "age1e"])
    again = sops_files.sops_config(both, cluster="prod", recipients=["age1p"])
    assert again == both  # unchanged rules: the same bytes
    rules = yaml.safe_load(both)["creation_rules"]
    assert rules == [
        {
            "path_regex": r"^clusters/dev/.*\.yaml$",
            "encrypted_regex": "^(data|stringData)$",
            "age": "age1d,age1e",
        },
        {
            "path_regex": r"^clusters/prod/.*\.yaml$",
            "encrypted_regex": "^(data|stringData)$",
            "age": "age1p",
        },
    ]
    moved = yaml.safe_load(sops_files.sops_config(both, cluster="prod", recipients=["age1q"]))
    assert moved["creation_rules"][1]["age"] == "age1q"
    assert sops_files.sops_config(b"{not yaml", cluster="prod", recipients=["age1p"]) == first
