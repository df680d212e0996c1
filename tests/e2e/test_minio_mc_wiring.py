"""MinIO wired the way MinIO Operator and Helm-chart installs need it: with the real ``mc``.

No ``MINIO_NOTIFY_WEBHOOK_*`` environment on the server: the webhook target is configured with
``mc admin config set ALIAS notify_webhook:backup2gitops endpoint=... auth_token=...``, made
live with ``mc admin service restart``, and the bucket subscribed with ``mc event add ... --event
put --suffix manifest.json`` -- by a least-privilege MinIO user that may manage the bucket's
notifications and nothing else (it cannot list or read the bucket, nor touch the server's
configuration). Then a native backup is written and the notification MinIO sends reaches
backup-complete (functions-framework), whose ``backup.completed`` lands in its ``K_SINK``.
``mc`` is github.com/minio/mc built at the pin in scripts/build-mc.sh; the commands are the ones
knative/minio/README.md shows.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cloudevents.http import from_http

from backup2gitops.core.backup_manifest import dump_manifest
from backup2gitops.core.events import BACKUP_COMPLETED
from tests.e2e.servers import (
    answers,
    gopath_binary,
    http_recorder,
    minio_server,
    needs_minio,
    serve_function,
    wait_for,
)
from tests.fixtures.native import native_backup

MC_MISSING = "no mc: scripts/build-mc.sh builds it (scripts/install-test-deps.sh runs it)"
pytestmark = [
    pytest.mark.e2e,
    needs_minio,
    pytest.mark.skipif(gopath_binary("mc") is None, reason=MC_MISSING),
]
HANDLER = Path(__file__).resolve().parents[2] / "functions" / "backup_complete" / "handler.py"
BUCKET = "backups"
TOKEN = "webhook-token-for-the-mc-path"
ARN = "arn:minio:sqs::backup2gitops:webhook"
EVENTS_USER, EVENTS_SECRET = "b2g-events", "b2g-events-secret-key"
# knative/minio/mc-events-policy.json: the bucket's notification configuration, nothing else
POLICY = Path(__file__).resolve().parents[2] / "knative" / "minio" / "mc-events-policy.json"


def mc(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    binary = gopath_binary("mc")
    assert binary is not None, MC_MISSING
    done = subprocess.run(
        [str(binary), "--no-color", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    if check:
        assert done.returncode == 0, f"mc {' '.join(args)}: {done.stdout}{done.stderr}"
    return done


@pytest.fixture
def mc_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MC_", "AWS_"))}
    env["MC_CONFIG_DIR"] = str(tmp_path / "mc")
    yield env


def test_mc_wires_minio_to_backup_complete_with_a_least_privilege_user(
    tmp_path: Path, mc_env: dict[str, str]
) -> None:
    config = tmp_path / "backup2gitops.yaml"
    with http_recorder() as sink, minio_server(tmp_path) as minio:
        config.write_text(
            f"storage: {{url: s3://{BUCKET}, endpoint_url: {minio.url}, region: us-east-1, "
            "addressing_style: path}\n"
        )
        function_env = {
            "BACKUP2GITOPS_CONFIG": str(config),
            "BACKUP2GITOPS_WEBHOOK_TOKEN": TOKEN,
            "AWS_ACCESS_KEY_ID": minio.user,
            "AWS_SECRET_ACCESS_KEY": minio.password,
            "K_SINK": sink.url + "/",
        }
        log = tmp_path / "backup-complete.log"
        with serve_function(HANDLER, "backup_complete", env=function_env, log=log) as url:
            host = minio.url.removeprefix("http://")
            admin = {**mc_env, "MC_HOST_admin": f"http://{minio.user}:{minio.password}@{host}"}
            mc(admin, "mb", f"admin/{BUCKET}")
            # 1. the webhook target, as an operator with admin rights sets it once
            mc(
                admin,
                "admin",
                "config",
                "set",
                "admin",
                "notify_webhook:backup2gitops",
                f"endpoint={url}/",
                f"auth_token={TOKEN}",
                f"queue_dir={tmp_path / 'minio-events'}",
                "queue_limit=100000",
            )
            mc(admin, "admin", "service", "restart", "admin", "--json")  # --json: no TTY UI
            wait_for(
                lambda: answers(f"{minio.url}/minio/health/ready", ok=lambda s: s == 200),
                timeout=120,
                what="MinIO back after mc admin service restart",
            )
            shown = mc(admin, "admin", "config", "get", "admin", "notify_webhook:backup2gitops")
            assert f"endpoint={url}/" in shown.stdout and TOKEN not in shown.stdout
            # 2. the least-privilege user the Job runs as
            mc(admin, "admin", "policy", "create", "admin", "b2g-events", str(POLICY))
            mc(admin, "admin", "user", "add", "admin", EVENTS_USER, EVENTS_SECRET)
            mc(admin, "admin", "policy", "attach", "admin", "b2g-events", "--user", EVENTS_USER)
            events = {**mc_env, "MC_HOST_events": f"http://{EVENTS_USER}:{EVENTS_SECRET}@{host}"}
            # 3. the bucket notification, as the Job makes it
            mc(events, "event", "add", f"events/{BUCKET}", ARN, "--event", "put", "--suffix",
               "manifest.json")  # fmt: skip
            listed = mc(events, "event", "ls", f"events/{BUCKET}", ARN)
            assert ARN in listed.stdout and "manifest.json" in listed.stdout
            # ... and nothing more
            assert mc(events, "ls", f"events/{BUCKET}", check=False).returncode != 0
            refused = mc(events, "admin", "config", "get", "events", "notify_webhook", check=False)
            assert refused.returncode != 0

            # 4. a backup is written; MinIO's notification reaches backup-complete
            s3 = minio.s3_client()
            backup = native_backup(cluster="prod", backup_id="20261207t020000z")
            s3.put_object(Bucket=BUCKET, Key=backup.archive_key, Body=backup.archive)
            s3.put_object(
                Bucket=BUCKET, Key=backup.manifest_key, Body=dump_manifest(backup.manifest)
            )

            def completed() -> dict[str, object] | None:
                for request in sink.snapshot("/"):
                    event = from_http(request.headers, request.body)
                    if event["type"] == BACKUP_COMPLETED:
                        return {"subject": event["subject"], **event.get_data()}
                return None

            done = wait_for(completed, timeout=120, what="backup.completed through the mc path")
    assert done["subject"] == "prod/20261207t020000z"
    assert done["keys"] == [backup.manifest_key, backup.archive_key]
    assert json.dumps(done).count(TOKEN) == 0
