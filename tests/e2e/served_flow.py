"""The production path on one machine, as test_full_flow_minio and test_flow_metrics_minio run it:
a real MinIO whose webhook posts to ``backup2gitops serve`` (the five functions under
functions-framework and the broker routing by triggers/), pushing to a real ``git daemon``.

The servers start in that order -- the daemon, ``serve`` (its storage on MinIO's port, taken
first), MinIO with the webhook target -- and the bucket ``backups`` announces each new
``manifest.json`` to backup-complete. Credentials only from the environment, as in production."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from backup2gitops.adapters.storage import ObjectStore, open_store
from backup2gitops.config import StorageConfig
from tests.e2e.git_daemon import git_daemon
from tests.e2e.minio_webhook import bucket_notifying, webhook_target
from tests.e2e.servers import (
    MINIO_PASSWORD,
    MINIO_USER,
    backup2gitops_serve,
    free_port_block,
    minio_s3_client,
    minio_server,
)

BUCKET = "backups"
CONFIG = """
storage:
  url: s3://backups
  endpoint_url: {minio}
  addressing_style: path
  health_url: {minio}
clusters: [{{name: {cluster}}}]
git: {{url: "{remote}", cache_dir: "{cache}"}}
backup_complete:
  webhook_token: {{env: BACKUP2GITOPS_WEBHOOK_TOKEN}}
"""
"""The functions' configuration: storage on the MinIO, one cluster, the daemon's repository, the
webhook's token from the environment."""


@dataclass(frozen=True)
class ServedFlow:
    store: ObjectStore
    """``s3://backups`` on the MinIO, as the functions open it."""
    remote: str
    """The daemon's ``git://`` URL of gitops.git."""
    bare: Path
    """The daemon's repository folder of gitops.git."""
    port: int
    """The broker's port; the functions listen on the ports after it."""
    log: Path
    """``serve``'s output."""


@contextmanager
def served_flow(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    cluster: str,
    token: str,
    more_config: str = "",
) -> Iterator[ServedFlow]:
    """The flow for backups of ``cluster``, MinIO's webhook posting with ``token``; the functions'
    configuration is ``CONFIG`` and then ``more_config`` (YAML)."""
    minio_port = free_port_block(1)
    endpoint = f"http://127.0.0.1:{minio_port}"
    with git_daemon(tmp_path / "git") as git_base:
        remote = git_base + "gitops.git"
        config_file = tmp_path / "config.yaml"
        config_file.write_text(
            CONFIG.format(minio=endpoint, cluster=cluster, remote=remote, cache=tmp_path / "cache")
            + more_config
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("BACKUP2GITOPS")}
        env |= {
            "BACKUP2GITOPS_CONFIG": str(config_file),
            "BACKUP2GITOPS_WEBHOOK_TOKEN": token,
            "AWS_ACCESS_KEY_ID": MINIO_USER,  # credentials only from the environment
            "AWS_SECRET_ACCESS_KEY": MINIO_PASSWORD,
        }
        log = tmp_path / "serve.log"
        with backup2gitops_serve(env=env, log=log) as port:
            minio_env = webhook_target(
                "B2G",
                endpoint=f"http://127.0.0.1:{port + 1}/",
                token=token,
                queue_dir=tmp_path / "minio-queue",
            )
            with minio_server(tmp_path, env=minio_env, port=minio_port):
                bucket_notifying(minio_s3_client(endpoint), BUCKET)
                monkeypatch.setenv("AWS_ACCESS_KEY_ID", MINIO_USER)
                monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", MINIO_PASSWORD)
                store = open_store(
                    StorageConfig(
                        url=f"s3://{BUCKET}", endpoint_url=endpoint, addressing_style="path"
                    )
                )
                yield ServedFlow(store, remote, tmp_path / "git" / "gitops.git", port, log)
