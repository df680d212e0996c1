"""Secrets under ``secrets: sops``: encrypted with the real sops binary, decryptable by Flux."""

from __future__ import annotations

import base64
import io
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from backup2gitops import generation
from backup2gitops.adapters.sops import SopsEncrypter, SopsError
from backup2gitops.core import sops_files
from backup2gitops.core.archive import BackupItem
from backup2gitops.core.cleaning import CleaningPolicy
from tests.fixtures.tarballs import backup_tarball, object_item
from tests.git_repos import bare_repository, git_remote
from tests.git_repos import git_dir_output as git_out

GOBIN = Path(os.environ.get("GOPATH", str(Path.home() / "go"))) / "bin"
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not (shutil.which("sops") or (GOBIN / "sops").exists())
        or not (shutil.which("age-keygen") or (GOBIN / "age-keygen").exists()),
        reason="sops and age-keygen are installed by scripts/install-test-deps.sh",
    ),
]

SECRET: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Secret",
    "type": "Opaque",
    "metadata": {"name": "db", "namespace": "payments", "uid": "u1", "resourceVersion": "9"},
    "data": {"password": base64.b64encode(b"hunter2").decode()},
}
DIGEST_KEY = b"k" * 32


def generate_sops(
    data: bytes, remote: Path, cache_dir: Path, *, backup_id: str, encrypt: SopsEncrypter
) -> generation.Outcome:
    """The backup ``data`` of cluster ``prod`` pushed to ``remote``, its Secrets under sops."""
    return generation.generate(
        archive=lambda: io.BytesIO(data),
        remote=git_remote(remote, cache_dir),
        cluster="prod",
        backup_id=backup_id,
        policy=CleaningPolicy(secrets="sops"),
        encrypt=encrypt,
    )


def sops_decrypt(path: Path, key: Path) -> str:
    """The real sops's decryption of ``path`` with the age key in ``key``."""
    return subprocess.run(
        ["sops", "decrypt", str(path)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "SOPS_AGE_KEY_FILE": str(key)},
    ).stdout


@pytest.fixture
def age_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Path]:
    monkeypatch.setenv("PATH", f"{GOBIN}:{os.environ['PATH']}")
    key = tmp_path / "age.key"
    subprocess.run(["age-keygen", "-o", str(key)], check=True, capture_output=True)
    public = next(
        line.split(": ")[1]
        for line in key.read_text().splitlines()
        if line.startswith("# public key")
    )
    return public, key


def test_secret_is_encrypted_in_git_and_sops_decrypts_the_committed_file(
    tmp_path: Path, age_key: tuple[str, Path]
) -> None:
    public, key = age_key
    remote = bare_repository(tmp_path / "r.git")
    data = backup_tarball([object_item("secrets", SECRET)])
    outcome = generate_sops(
        data,
        remote,
        tmp_path / "c",
        backup_id="b1",
        encrypt=SopsEncrypter(recipients=[public], digest_key=DIGEST_KEY),
    )
    assert outcome.plan.objects == 1
    committed = git_out(remote, "show", "main:clusters/prod/namespaces/payments/secrets/db.yaml")
    assert "hunter2" not in committed and SECRET["data"]["password"] not in committed
    doc = yaml.safe_load(committed)
    assert doc["data"]["password"].startswith("ENC[AES256_GCM")
    digest = doc["metadata"].pop("annotations")[sops_files.DIGEST_ANNOTATION]
    assert doc["metadata"] == {"name": "db", "namespace": "payments"}  # reviewable, cleaned
    assert digest.startswith("hmac-sha256:")  # clear text, covered by the MAC (decrypt below)
    path = tmp_path / "db.yaml"
    path.write_text(committed)
    decrypted = sops_decrypt(path, key)
    assert yaml.safe_load(decrypted)["data"]["password"] == SECRET["data"]["password"]


def test_sops_without_recipients_or_binary_refuses_instead_of_writing_plaintext() -> None:
    with pytest.raises(SopsError, match="recipients"):
        SopsEncrypter(recipients=[], digest_key=DIGEST_KEY)
    with pytest.raises(SopsError, match="binary"):
        SopsEncrypter(recipients=["age1x"], digest_key=DIGEST_KEY, binary="no-such-sops")
    with pytest.raises(SopsError, match="32 bytes or more"):
        SopsEncrypter(recipients=["age1x"], digest_key=b"short")


def test_generation_refuses_when_encryption_is_asked_but_not_wired() -> None:
    from backup2gitops.core.archive import BackupItem

    item = BackupItem(group_resource="secrets", namespace="payments", name="db", obj=SECRET)
    with pytest.raises(ValueError, match="no encrypter"):
        generation.plan_backup([item], cluster="prod", policy=CleaningPolicy(secrets="sops"))


def secrets_archive(secrets: dict[str, dict[str, str]]) -> bytes:
    """A backup of one Secret per name (``{name: data}``) and a ConfigMap."""
    items = [
        BackupItem(
            "secrets",
            "payments",
            name,
            {**SECRET, "metadata": {**SECRET["metadata"], "name": name}, "data": data},
        )
        for name, data in secrets.items()
    ]
    settings = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "settings", "namespace": "payments"},
        "data": {"mode": "fast"},
    }
    return backup_tarball([*items, object_item("configmaps", settings)])


def test_unchanged_secrets_keep_their_ciphertext_and_a_changed_one_is_the_only_diff(
    tmp_path: Path, age_key: tuple[str, Path]
) -> None:
    """Two backups with the same Secrets: the second commit's tree is the first's, byte for
    byte; a third with one Secret changed changes exactly that file, which sops decrypts."""
    public, key = age_key
    remote = bare_repository(tmp_path / "r.git")
    encrypt = SopsEncrypter(recipients=[public], digest_key=DIGEST_KEY)
    b64 = lambda text: base64.b64encode(text.encode()).decode()  # noqa: E731
    same = {f"s{i}": {"password": b64(f"secret-{i}")} for i in range(3)}

    def backup(backup_id: str, secrets: dict[str, dict[str, str]]) -> generation.Outcome:
        data = secrets_archive(secrets)
        return generate_sops(data, remote, tmp_path / "c", backup_id=backup_id, encrypt=encrypt)

    first = backup("b1", same)
    assert (first.commit.added, first.plan.objects) == (4, 4)
    tree_1 = git_out(remote, "rev-parse", "main^{tree}")
    second = backup("b2", same)
    assert not second.commit.noop and (second.commit.changed, second.commit.added) == (0, 0)
    assert git_out(remote, "rev-parse", "main^{tree}") == tree_1  # nothing re-encrypted
    assert git_out(remote, "diff", "--name-only", "main~1", "main") == ""

    changed = {**same, "s1": {"password": b64("rotated")}}
    third = backup("b3", changed)
    assert (third.commit.changed, third.commit.added, third.commit.removed) == (1, 0, 0)
    path = "clusters/prod/namespaces/payments/secrets/s1.yaml"
    listed = git_out(remote, "diff", "--name-only", "main~1", "main").split()
    assert [p for p in listed if "/.backup2gitops/" not in p] == [path]  # but the member cache

    committed = git_out(remote, "show", f"main:{path}")
    doc = yaml.safe_load(committed)
    digest = doc["metadata"]["annotations"][sops_files.DIGEST_ANNOTATION]
    assert digest.startswith("hmac-sha256:") and "rotated" not in committed
    (tmp_path / "s1.yaml").write_text(committed)
    decrypted = sops_decrypt(tmp_path / "s1.yaml", key)
    assert yaml.safe_load(decrypted)["data"] == {"password": b64("rotated")}


def test_the_sops_yaml_rules_let_sops_encrypt_a_new_file_by_themselves(
    tmp_path: Path, age_key: tuple[str, Path]
) -> None:
    """``.sops.yaml`` at the root: ``sops encrypt`` of a file under the cluster, given no
    flags, uses its recipient and encrypts only data/stringData (what ``sops edit`` does)."""
    public, _key = age_key
    remote = bare_repository(tmp_path / "r.git")
    data = secrets_archive({"db": SECRET["data"]})
    generate_sops(
        data,
        remote,
        tmp_path / "c",
        backup_id="b1",
        encrypt=SopsEncrypter(recipients=[public], digest_key=DIGEST_KEY),
    )
    rules = yaml.safe_load(git_out(remote, "show", "main:.sops.yaml"))
    assert rules == {
        "creation_rules": [
            {
                "path_regex": "^clusters/prod/.*\\.yaml$",
                "encrypted_regex": "^(data|stringData)$",
                "age": public,
            }
        ]
    }
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(remote), str(clone)], check=True)
    new = clone / "clusters/prod/namespaces/payments/secrets/new.yaml"
    new.write_text(yaml.safe_dump({**SECRET, "metadata": {"name": "new"}}))
    encrypted = subprocess.run(
        ["sops", "encrypt", str(new.relative_to(clone))],
        capture_output=True,
        text=True,
        check=True,
        cwd=clone,
    ).stdout
    doc = yaml.safe_load(encrypted)
    assert doc["data"]["password"].startswith("ENC[") and doc["metadata"] == {"name": "new"}
    assert [r["recipient"] for r in doc["sops"]["age"]] == [public]


def test_a_new_digest_key_voids_the_member_cache(tmp_path: Path, age_key: tuple[str, Path]) -> None:
    """The same Secrets under a new ``sops_digest_key``: every Secret is encrypted again, as a
    full run does (the generator's member cache is keyed by the key's fingerprint)."""
    public, _ = age_key
    data = secrets_archive({f"s{i}": {"password": "c2VjcmV0"} for i in range(2)})

    def backup(remote: Path, backup_id: str, key: bytes) -> generation.Outcome:
        encrypt = SopsEncrypter(recipients=[public], digest_key=key)
        cache_dir = tmp_path / f"c-{remote.name}"
        return generate_sops(data, remote, cache_dir, backup_id=backup_id, encrypt=encrypt)

    daily, fresh = (bare_repository(tmp_path / name) for name in ("daily.git", "fresh.git"))
    backup(daily, "b1", DIGEST_KEY)
    second = backup(daily, "b2", b"n" * 32)
    assert second.plan.decoded == 3  # the two Secrets and the ConfigMap: nothing reused
    assert second.commit.changed == 2
    backup(fresh, "b2", b"n" * 32)
    path = "clusters/prod/namespaces/payments/secrets/s0.yaml"
    annotation = sops_files.DIGEST_ANNOTATION
    digests = [
        yaml.safe_load(git_out(remote, "show", f"main:{path}"))["metadata"]["annotations"][
            annotation
        ]
        for remote in (daily, fresh)
    ]
    assert digests[0] == digests[1]
