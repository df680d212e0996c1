"""The production path on one machine: a real MinIO's webhook -> ``backup2gitops serve`` (the five
functions under functions-framework, and the broker routing by triggers/) -> a commit in a real
``git daemon`` remote. The backup is written to MinIO by cluster-backup's own writer."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.config import Config as BotoConfig

from backup2gitops.adapters.storage import open_store
from backup2gitops.config import StorageConfig
from backup2gitops.core import events
from backup2gitops.native_backup_writer import write_native_backup
from backup2gitops.sample import SAMPLE_BACKUP_ID, SAMPLE_CLUSTER, iter_sample_items
from tests.e2e.git_daemon import git_daemon
from tests.e2e.servers import (
    MINIO_PASSWORD,
    MINIO_USER,
    backup2gitops_serve,
    free_port_block,
    minio_binary,
    minio_server,
)

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(minio_binary() is None, reason="scripts/install-test-deps.sh builds MinIO"),
]
TOKEN = "full-flow-token"
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


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[tuple[int, str, Path]]:
    minio_port = free_port_block(1)
    with git_daemon(tmp_path / "git") as git_base:
        config = tmp_path / "config.yaml"
        config.write_text(
            CONFIG.format(
                minio=f"http://127.0.0.1:{minio_port}",
                cluster=SAMPLE_CLUSTER,
                remote=git_base + "gitops.git",
                cache=tmp_path / "cache",
            )
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("BACKUP2GITOPS")}
        env.update(
            {
                "BACKUP2GITOPS_CONFIG": str(config),
                "BACKUP2GITOPS_WEBHOOK_TOKEN": TOKEN,
                "AWS_ACCESS_KEY_ID": MINIO_USER,  # credentials only from the environment
                "AWS_SECRET_ACCESS_KEY": MINIO_PASSWORD,
            }
        )
        with backup2gitops_serve(env=env, log=tmp_path / "serve.log") as port:
            minio_env = {
                "MINIO_NOTIFY_WEBHOOK_ENABLE_B2G": "on",
                "MINIO_NOTIFY_WEBHOOK_ENDPOINT_B2G": f"http://127.0.0.1:{port + 1}/",
                "MINIO_NOTIFY_WEBHOOK_AUTH_TOKEN_B2G": TOKEN,
                "MINIO_NOTIFY_WEBHOOK_QUEUE_DIR_B2G": str(tmp_path / "minio-queue"),
            }
            with minio_server(tmp_path, env=minio_env, port=minio_port):
                yield minio_port, git_base + "gitops.git", tmp_path


def test_minio_webhook_to_commit_through_all_five_functions(
    serve: tuple[int, str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    minio_port, remote, tmp_path = serve
    endpoint = f"http://127.0.0.1:{minio_port}"
    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=MINIO_USER,
        aws_secret_access_key=MINIO_PASSWORD,
        config=BotoConfig(s3={"addressing_style": "path"}),
    )
    s3.create_bucket(Bucket="backups")
    s3.put_bucket_notification_configuration(
        Bucket="backups",
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "QueueArn": "arn:minio:sqs::B2G:webhook",
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {
                        "Key": {"FilterRules": [{"Name": "suffix", "Value": "manifest.json"}]}
                    },
                }
            ]
        },
    )
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", MINIO_USER)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", MINIO_PASSWORD)
    store = open_store(
        StorageConfig(url="s3://backups", endpoint_url=endpoint, addressing_style="path")
    )
    write_native_backup(
        store,
        iter_sample_items(),
        cluster=SAMPLE_CLUSTER,
        backup_id=SAMPLE_BACKUP_ID,
        started_at=events.now(),
    )

    clone = tmp_path / "clone"
    deadline = time.monotonic() + 240
    while True:
        heads = subprocess.run(
            ["git", "ls-remote", "--heads", remote, "main"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout
        if heads.strip():
            break
        assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()[-3000:]
        time.sleep(0.5)
    subprocess.run(["git", "clone", "-q", remote, str(clone)], check=True)
    message = subprocess.run(
        ["git", "-C", str(clone), "log", "-1", "--format=%B"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert f"Backup-Id: {SAMPLE_BACKUP_ID}" in message and f"Cluster: {SAMPLE_CLUSTER}" in message
    assert (clone / "clusters/demo/namespaces/shop/deployments.apps/web.yaml").is_file()
    assert not list(clone.glob("clusters/demo/namespaces/*/pods"))
    log = (tmp_path / "serve.log").read_text()
    assert TOKEN not in log and MINIO_PASSWORD not in log  # no credential in any log line
