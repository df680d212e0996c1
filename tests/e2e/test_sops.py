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
from backup2gitops.adapters.gitrepo import GitRemote
from backup2gitops.adapters.sops import SopsEncrypter, SopsError
from backup2gitops.core.archive import ArchiveWriter
from backup2gitops.core.cleaning import CleaningPolicy

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
    remote = tmp_path / "r.git"
    subprocess.run(
        ["git", "init", "-q", "--bare", "--initial-branch=main", str(remote)], check=True
    )
    out = io.BytesIO()
    with ArchiveWriter(out) as writer:
        writer.add(group_resource="secrets", namespace="payments", name="db", obj=SECRET)
    data = out.getvalue()
    outcome = generation.generate(
        archive=lambda: io.BytesIO(data),
        remote=GitRemote(
            url=str(remote),
            branch="main",
            cache_dir=tmp_path / "c",
            author_name="t",
            author_email="t@e",
        ),
        cluster="prod",
        backup_id="b1",
        policy=CleaningPolicy(secrets="sops"),
        encrypt=SopsEncrypter(recipients=[public]),
    )
    assert outcome.plan.objects == 1
    committed = subprocess.run(
        [
            "git",
            "--git-dir",
            str(remote),
            "show",
            "main:clusters/prod/namespaces/payments/secrets/db.yaml",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "hunter2" not in committed and SECRET["data"]["password"] not in committed
    doc = yaml.safe_load(committed)
    assert doc["data"]["password"].startswith("ENC[AES256_GCM")
    assert doc["metadata"] == {"name": "db", "namespace": "payments"}  # reviewable, cleaned
    path = tmp_path / "db.yaml"
    path.write_text(committed)
    decrypted = subprocess.run(
        ["sops", "decrypt", str(path)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "SOPS_AGE_KEY_FILE": str(key)},
    ).stdout
    assert yaml.safe_load(decrypted)["data"]["password"] == SECRET["data"]["password"]


def test_sops_without_recipients_or_binary_refuses_instead_of_writing_plaintext() -> None:
    with pytest.raises(SopsError, match="recipients"):
        SopsEncrypter(recipients=[])
    with pytest.raises(SopsError, match="binary"):
        SopsEncrypter(recipients=["age1x"], binary="no-such-sops")


def test_generation_refuses_when_encryption_is_asked_but_not_wired() -> None:
    from backup2gitops.core.archive import BackupItem

    item = BackupItem(group_resource="secrets", namespace="payments", name="db", obj=SECRET)
    with pytest.raises(ValueError, match="no encrypter"):
        generation.plan_backup([item], cluster="prod", policy=CleaningPolicy(secrets="sops"))
