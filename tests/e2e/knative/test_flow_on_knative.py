"""The whole flow on Knative Eventing's own data plane (v0.50.0), nothing replayed.

The project's ``knative/`` and ``triggers/`` run on the real MT channel-based Broker
(``conftest.project_on_knative``); the five functions are served by functions-framework on
127.0.0.1 behind their Knative Services' cluster-local names, with the real MinIO, a real
``git daemon`` remote and a real Alertmanager:

- a MinIO webhook into backup-complete -> backup.completed through the real broker (K_SINK) ->
  gitops-generator -> a commit -> gitops.generated -> health-aggregator -> health.* ->
  alert-router; a backup.failed through the broker reaches Alertmanager as a firing alert;
- an outside ``uri:`` subscriber receives every catalog event of the flow, as Knative sends it;
- a failing ``uri:`` subscriber's copies are dead-lettered to the project's dead-letter Service
  with the real ``knativeerror*`` attributes;
- the same backup.completed delivered again makes no second commit;
- the PingSources, made to tick every minute, drive cluster-backup (a backup of this very API
  server, into MinIO, whose webhook makes a second commit) and health-aggregator.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from backup2gitops.adapters.storage import open_store
from backup2gitops.cli import flow as cli_flow
from backup2gitops.config import StorageConfig
from backup2gitops.core import events
from backup2gitops.native_backup_writer import write_native_backup
from backup2gitops.sample import SAMPLE_BACKUP_ID, SAMPLE_CLUSTER, iter_sample_items
from tests.e2e.alertmanager import alertmanager_server, webhook_config
from tests.e2e.git_daemon import git_daemon
from tests.e2e.knative.conftest import NAMESPACE, ProjectOnKnative
from tests.e2e.minio_webhook import bucket_notifying, webhook_target
from tests.e2e.servers import (
    MINIO_PASSWORD,
    MINIO_USER,
    Recorded,
    Recorder,
    free_port_block,
    http_recorder,
    minio_s3_client,
    minio_server,
    needs_minio,
    serve_function,
    wait_for,
)

pytestmark = [
    pytest.mark.e2e,
    needs_minio,
]
TOKEN = "knative-flow-token"
LIVE_CLUSTER = "knative"  # cluster-backup's name for the API server Knative runs on
WAIT_S = 240.0
PING = "dev.knative.sources.ping"
CONFIG = """
storage:
  url: s3://backups
  endpoint_url: {minio}
  addressing_style: path
  health_url: {minio}/minio/health/live
clusters: [{{name: {cluster}}}, {{name: {live}}}]
git: {{url: "{remote}", cache_dir: "{cache}"}}
backup_complete:
  webhook_token: {{env: BACKUP2GITOPS_WEBHOOK_TOKEN}}
cluster_backup:
  cluster: {live}
  kubeconfig: {kubeconfig}
  include_namespaces: [backup2gitops, default]
alerts:
  receivers: [{{name: am, type: alertmanager, url: "{alertmanager}",
               health_url: "{alertmanager}/-/ready"}}]
  routes: [{{receivers: [am]}}]
"""


@dataclass
class Flow:
    project: ProjectOnKnative
    minio: str
    remote: str
    outside: Recorder
    failing: Recorder
    dead_letters: Recorder
    alerts: Recorder
    workdir: Path


def trigger(name: str, uri: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "eventing.knative.dev/v1",
        "kind": "Trigger",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {"broker": "backup2gitops", "subscriber": {"uri": uri}, **spec},
    }


def ce_types(recorder: Recorder) -> list[str]:
    return [r.headers.get("Ce-Type", "") for r in recorder.snapshot()]


def heads(remote: str) -> str:
    return subprocess.run(
        ["git", "ls-remote", "--heads", remote, "main"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()


def commit_messages(remote: str, workdir: Path) -> list[str]:
    clone = workdir / "clone"
    subprocess.run(["rm", "-rf", str(clone)], check=True)
    subprocess.run(["git", "clone", "-q", remote, str(clone)], check=True)
    log = subprocess.run(
        ["git", "-C", str(clone), "log", "--format=%B%x00"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [m.strip() for m in log.split("\0") if m.strip()]


@pytest.fixture(scope="module")
def flow(
    project_on_knative: ProjectOnKnative, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Flow]:
    plane = project_on_knative.knative
    workdir = tmp_path_factory.mktemp("knative-flow")
    minio_port = free_port_block(1)
    minio = f"http://127.0.0.1:{minio_port}"
    with contextlib.ExitStack() as stack:
        outside = stack.enter_context(http_recorder())
        failing = stack.enter_context(http_recorder(status=503))
        dead_letters = stack.enter_context(http_recorder())
        alerts = stack.enter_context(http_recorder())
        alertmanager = stack.enter_context(
            alertmanager_server(workdir / "alertmanager", webhook_config(alerts.url + "/am"))
        )
        git_base = stack.enter_context(git_daemon(workdir / "git"))
        remote = git_base + "gitops.git"
        config = workdir / "config.yaml"
        config.write_text(
            CONFIG.format(
                minio=minio,
                cluster=SAMPLE_CLUSTER,
                live=LIVE_CLUSTER,
                remote=remote,
                cache=workdir / "cache",
                kubeconfig=plane.cluster.kubeconfig,
                alertmanager=alertmanager,
            )
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("BACKUP2GITOPS")}
        env.update(
            {
                "BACKUP2GITOPS_CONFIG": str(config),
                "BACKUP2GITOPS_WEBHOOK_TOKEN": TOKEN,
                "AWS_ACCESS_KEY_ID": MINIO_USER,
                "AWS_SECRET_ACCESS_KEY": MINIO_PASSWORD,
            }
        )
        urls = {}
        for name in cli_flow.SERVICES:
            function_env = dict(env)
            if name in cli_flow.SINK_BOUND:  # what knative/base/sinkbinding.yaml injects
                function_env["K_SINK"] = project_on_knative.broker_url
            urls[name] = stack.enter_context(
                serve_function(
                    cli_flow.handler_module_file(name),
                    name.replace("-", "_"),
                    env=function_env,
                    log=workdir / f"{name}.log",
                )
            )
            plane.route(name, NAMESPACE, urls[name])
        plane.route("backup2gitops-dead-letter", NAMESPACE, dead_letters.url)
        minio_env = webhook_target(
            "B2G",
            endpoint=urls["backup-complete"] + "/",
            token=TOKEN,
            queue_dir=workdir / "minio-queue",
        )
        stack.enter_context(minio_server(workdir, env=minio_env, port=minio_port))
        extra = [
            trigger("outside-every-event", outside.url + "/"),
            trigger(
                "failing-subscriber",
                failing.url + "/fail",
                filters=[{"exact": {"type": events.BACKUP_COMPLETED}}],
                delivery={
                    "retry": 1,
                    "backoffPolicy": "linear",
                    "backoffDelay": "PT0.2S",
                    "deadLetterSink": {
                        "ref": {
                            "apiVersion": "serving.knative.dev/v1",
                            "kind": "Service",
                            "name": "backup2gitops-dead-letter",
                        }
                    },
                },
            ),
        ]
        plane.apply_defaulted("\n---\n".join(json.dumps(t) for t in extra), namespace=NAMESPACE)
        for t in extra:
            name = t["metadata"]["name"]
            plane.wait_ready(
                f"/apis/eventing.knative.dev/v1/namespaces/{NAMESPACE}/triggers/{name}",
                what=f"Trigger {name} Ready",
            )
        plane.wait_trigger_in_filter(NAMESPACE, "failing-subscriber")  # retries for 0.2 s only
        yield Flow(
            project=project_on_knative,
            minio=minio,
            remote=remote,
            outside=outside,
            failing=failing,
            dead_letters=dead_letters,
            alerts=alerts,
            workdir=workdir,
        )


def received(recorder: Recorder, type_: str, *, at_least: int = 1) -> list[Recorded]:
    def found() -> list[Recorded] | None:
        copies = [r for r in recorder.snapshot() if r.headers.get("Ce-Type") == type_]
        return copies if len(copies) >= at_least else None

    return wait_for(found, timeout=WAIT_S, what=f"{at_least} x {type_} at {recorder.url}")


def write_sample_backup(flow: Flow) -> None:
    bucket_notifying(minio_s3_client(flow.minio), "backups")
    store = open_store(
        StorageConfig(url="s3://backups", endpoint_url=flow.minio, addressing_style="path")
    )
    write_native_backup(
        store,
        iter_sample_items(),
        cluster=SAMPLE_CLUSTER,
        backup_id=SAMPLE_BACKUP_ID,
        started_at=events.now(),
    )


def test_minio_webhook_to_commit_and_alert_through_the_real_broker(
    flow: Flow, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", MINIO_USER)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", MINIO_PASSWORD)
    write_sample_backup(flow)

    # backup-complete -> K_SINK -> broker -> gitops-generator -> commit -> reply -> broker
    generated = received(flow.outside, events.GITOPS_GENERATED)[0]
    assert json.loads(generated.body)["cluster"] == SAMPLE_CLUSTER
    messages = commit_messages(flow.remote, flow.workdir)
    assert any(f"Backup-Id: {SAMPLE_BACKUP_ID}" in m for m in messages)
    # -> health-aggregator (its reply and its K_SINK events) -> the outside subscriber
    for type_ in (events.BACKUP_COMPLETED, events.HEALTH_REPORTED):
        received(flow.outside, type_)
    completed = received(flow.outside, events.BACKUP_COMPLETED)[0]
    # what Knative's filter sends a subscriber (binary mode)
    assert completed.headers["Ce-Specversion"] == "1.0"
    assert completed.headers.get("Ce-Knativearrivaltime")
    assert completed.headers.get("Prefer") == "reply"
    assert completed.headers.get("Kn-Namespace") == NAMESPACE

    # the failing subscriber's copy is dead-lettered with Knative's own attributes
    dead = received(flow.dead_letters, events.BACKUP_COMPLETED)[0]
    assert dead.headers["Ce-Id"] == completed.headers["Ce-Id"]
    assert dead.headers["Ce-Knativeerrordest"] == flow.failing.url + "/fail"
    assert dead.headers["Ce-Knativeerrorcode"] == "503"
    assert (
        len([r for r in flow.failing.snapshot() if r.headers["Ce-Id"] == dead.headers["Ce-Id"]])
        == 2
    )

    # a failure through the broker reaches the real Alertmanager through alert-router
    failed = {
        "cluster": "elsewhere",
        "backup_id": "b-broken",
        "code": "corrupt",
        "message": "bad tar",
    }
    answer = requests.post(
        flow.project.broker_url,
        headers={
            "Ce-Specversion": "1.0",
            "Ce-Id": "knative-flow-failed-1",
            "Ce-Source": "/backup2gitops/test",
            "Ce-Type": events.BACKUP_FAILED,
            "Ce-Cluster": "elsewhere",
            "Content-Type": "application/json",
        },
        data=json.dumps(failed),
        timeout=60,
    )
    assert answer.status_code == 202, answer.text

    def notified() -> dict[str, Any] | None:
        for request in flow.alerts.snapshot():
            body = json.loads(request.body)
            if any(
                a["labels"].get("alertname") == "BackupFailed"
                and a["labels"].get("cluster") == "elsewhere"
                for a in body["alerts"]
            ):
                return dict(body)
        return None

    notification = wait_for(notified, timeout=WAIT_S, what="Alertmanager's webhook notification")
    assert notification["status"] == "firing"


def test_redelivered_backup_completed_makes_no_second_commit(flow: Flow) -> None:
    completed = received(flow.outside, events.BACKUP_COMPLETED)[0]
    before = heads(flow.remote)
    generated_before = len(received(flow.outside, events.GITOPS_GENERATED))
    headers = {
        k: v
        for k, v in completed.headers.items()
        if k.lower().startswith("ce-") and k.lower() not in ("ce-knativearrivaltime",)
    }
    headers["Content-Type"] = completed.headers.get("Content-Type", "application/json")
    answer = requests.post(
        flow.project.broker_url, headers=headers, data=completed.body, timeout=60
    )
    assert answer.status_code == 202, answer.text
    again = received(flow.outside, events.GITOPS_GENERATED, at_least=generated_before + 1)
    assert json.loads(again[-1].body)["noop"] is True
    assert heads(flow.remote) == before


def test_ping_sources_drive_cluster_backup_and_health_aggregator(flow: Flow) -> None:
    """Both PingSources, rescheduled to every minute: cluster-backup backs up this API server
    into MinIO (its manifest.json webhook makes a commit for cluster "knative"), and
    health-aggregator reports again."""
    plane = flow.project.knative
    reported = len(received(flow.outside, events.HEALTH_REPORTED))
    for name in ("backup2gitops-backup-schedule", "backup2gitops-health-schedule"):
        plane.cluster.kubectl(
            "patch",
            "pingsource",
            name,
            "-n",
            NAMESPACE,
            "--type=merge",
            "-p",
            json.dumps({"spec": {"schedule": "* * * * *"}}),
        )
    schedules = {"backup2gitops-backup-schedule", "backup2gitops-health-schedule"}

    def both_ticked() -> set[str] | None:
        # each source's tick, whichever comes first: the two patches may straddle a minute,
        # and then one source ticks (maybe twice) before the other's first tick
        ticks = [r for r in flow.outside.snapshot() if r.headers.get("Ce-Type") == PING]
        sources = {t.headers["Ce-Source"].rsplit("/", 1)[1] for t in ticks}
        return sources if schedules <= sources else None

    wait_for(both_ticked, timeout=WAIT_S, what=f"a tick from each of {sorted(schedules)}")
    received(flow.outside, events.HEALTH_REPORTED, at_least=reported + 1)

    def live_commit() -> list[str] | None:
        messages = commit_messages(flow.remote, flow.workdir)
        return messages if any(f"Cluster: {LIVE_CLUSTER}" in m for m in messages) else None

    wait_for(live_commit, timeout=WAIT_S, what=f"a commit for cluster {LIVE_CLUSTER}")
