"""health-aggregator against a directory bucket, a local git remote and a recorded kube API."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from backup2gitops.adapters.storage import FileStore
from backup2gitops.config import parse_config
from backup2gitops.core import events
from backup2gitops.core.events import Event
from backup2gitops.runtime.context import FunctionContext
from health_aggregator import handler
from tests.fixtures.racing_state import RacingHealthWrites, two_runs_at_once
from tests.functional.http_client import client
from tests.git_repos import bare_repository
from tests.recording import Recorder

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
"""The clock every context here runs on: backup times are set from it, so ages are exact."""


def git(*args: str, cwd: Path) -> None:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t",
    }
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)


def make_remote(tmp: Path, commits: list[tuple[str, str]]) -> Path:
    work = tmp / "work"
    work.mkdir()
    git("init", "-q", "-b", "main", cwd=work)
    for index, (backup_id, cluster) in enumerate(commits):
        (work / f"f{index}").write_text(backup_id)
        git("add", "-A", cwd=work)
        git(
            "commit",
            "-q",
            "-m",
            f"backup {backup_id}\n\nBackup-Id: {backup_id}\nCluster: {cluster}",
            cwd=work,
        )
    bare = tmp / "remote.git"
    git("clone", "-q", "--bare", str(work), str(bare), cwd=tmp)
    return bare


def put_backup(store: FileStore, cluster: str, backup_id: str, age: timedelta) -> None:
    key = f"backups/{cluster}/{backup_id}/manifest.json"
    store.put_bytes(key, b"{}")
    stamp = (NOW - age).timestamp()
    os.utime(store.root / key, (stamp, stamp))


def make_ctx(
    tmp: Path,
    extra: str = "",
    *,
    store: FileStore | None = None,
    published: list[Event] | None = None,
) -> FunctionContext:
    remote = tmp / "remote.git"
    config = parse_config(
        f"""
storage: {{url: "file://{tmp / "bucket"}"}}
git: {{url: "{remote}", cache_dir: "{tmp / "cache"}"}}
clusters: [{{name: prod}}]
health: {{max_backup_age: PT26H, check_timeout_s: 5}}
{extra}
"""
    )
    sink = published if published is not None else []
    return FunctionContext(
        config,
        store=store or FileStore(tmp / "bucket"),
        publish=sink.append,
        environ={},
        clock=lambda: NOW,
    )


def ping(event_id: str = "p1") -> Event:
    return Event(
        id=event_id, source="/apis/v1/namespaces/ns/pingsources/health", type=events.PING, time=NOW
    )


@pytest.fixture
def tmp(tmp_path: Path) -> Path:
    make_remote(tmp_path, [("b0", "prod"), ("s1", "stage")])
    return tmp_path


def test_stale_backup_shows_in_health_and_emits_backup_stale(tmp: Path) -> None:
    published: list[Event] = []
    ctx = make_ctx(tmp, published=published)
    # b0 is committed: only stale (an uncommitted one would be stuck too, see test_watchdog)
    put_backup(ctx.store, "prod", "b0", timedelta(hours=30))  # type: ignore[arg-type]
    response = client(handler.SPEC, ctx).get("/health")
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"status", "checked_at", "components"}
    assert body["status"] == "degraded"
    fresh = body["components"]["freshness/prod"]
    assert fresh["status"] == "degraded" and "stale" in fresh["message"]
    assert set(fresh) == {"status", "latency_ms", "message"}
    assert body["components"]["git"]["status"] == "healthy"
    assert body["components"]["storage"]["status"] == "healthy"

    reply = handler.handle(ping(), ctx)
    assert reply is not None and reply.type == events.HEALTH_CHANGED
    assert reply.data["previous"] == "unknown" and reply.data["current"] == "degraded"
    stale = [e for e in published if e.type == events.BACKUP_STALE]
    assert [e.cluster for e in stale] == ["prod"]
    assert stale[0].data["max_age"] == "PT26H" and stale[0].data["age_s"] > 29 * 3600
    assert events.HEALTH_REPORTED in {e.type for e in published}
    again = handler.handle(ping("p2"), ctx)
    assert again is not None and again.type == events.HEALTH_REPORTED  # nothing changed


def test_status_reports_cluster_facts_and_lag(tmp: Path) -> None:
    ctx = make_ctx(tmp, "health: {max_gitops_lag: PT1H}")
    put_backup(ctx.store, "prod", "b0", timedelta(hours=3))  # type: ignore[arg-type]
    put_backup(ctx.store, "prod", "b1", timedelta(hours=2))  # type: ignore[arg-type]
    body = client(handler.SPEC, ctx).get("/status").get_json()
    prod = body["clusters"]["prod"]
    assert prod["last_backup"]["id"] == "b1"
    assert prod["last_commit"]["backup_id"] == "b0"
    assert prod["lag_s"] == pytest.approx(7200, abs=0.01)  # now - b1's time, both from NOW
    assert body["components"]["gitops-lag/prod"]["status"] == "degraded"
    assert body["clusters"]["prod"]["stale"] is False


def test_metrics_parse(tmp: Path) -> None:
    ctx = make_ctx(tmp)
    put_backup(ctx.store, "prod", "b0", timedelta(hours=1))  # type: ignore[arg-type]
    response = client(handler.SPEC, ctx).get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.get_data(as_text=True))
        for s in family.samples
    }
    backup_ts = samples[
        ("backup2gitops_last_backup_timestamp_seconds", (("backup_cluster", "prod"),))
    ]
    assert abs(backup_ts - (NOW - timedelta(hours=1)).timestamp()) < 5
    assert ("backup2gitops_last_commit_timestamp_seconds", (("backup_cluster", "prod"),)) in samples
    assert samples[("backup2gitops_gitops_lag_seconds", (("backup_cluster", "prod"),))] == 0
    assert samples[("backup2gitops_component_up", (("component", "git"),))] == 1
    assert ("backup2gitops_check_latency_seconds", (("component", "storage"),)) in samples
    # one series per state, 1 for the current one (no 0.5 for degraded)
    git = {
        state: samples[("backup2gitops_component_status", (("component", "git"), ("state", state)))]
        for state in ("healthy", "degraded", "unhealthy")
    }
    assert git == {"healthy": 1, "degraded": 0, "unhealthy": 0}
    overall = {
        state: samples[("backup2gitops_health_status", (("state", state),))]
        for state in ("healthy", "degraded", "unhealthy")
    }
    assert sum(overall.values()) == 1 and set(overall.values()) == {0, 1}
    ((name, labels),) = [k for k in samples if k[0] == "backup2gitops_build_info"]
    assert dict(labels)["version"] and dict(labels)["python_version"].startswith("3.")
    assert samples[(name, labels)] == 1
    assert not [k for k in samples if ("cluster", "prod") in k[1]]  # not the external label


class RacingStore(RacingHealthWrites, FileStore):
    """Both runs read the state before either writes it."""

    barrier = threading.Barrier(2, timeout=120)


@pytest.mark.parametrize("existing_state", [False, True])
def test_two_concurrent_runs_announce_one_change(tmp: Path, existing_state: bool) -> None:
    if existing_state:
        handler.handle(ping("p0"), make_ctx(tmp))  # a healthy-ish state to change from
        put_backup(FileStore(tmp / "bucket"), "prod", "b9", timedelta(hours=40))
    RacingStore.barrier.reset()

    def run(event_id: str) -> Event | None:
        ctx = make_ctx(tmp, store=RacingStore(tmp / "bucket"))
        return handler.handle(ping(event_id), ctx)

    replies = two_runs_at_once(run)
    kinds = sorted(r.type for r in replies if r is not None)
    assert kinds == [events.HEALTH_CHANGED, events.HEALTH_REPORTED]


def test_unreachable_git_remote_is_unhealthy_503_without_credentials(tmp: Path) -> None:
    ctx = make_ctx(tmp)
    ctx.config.git.url = "https://127.0.0.1:1/repo.git"
    ctx = FunctionContext(
        ctx.config, store=ctx.store, environ={"BACKUP2GITOPS_GIT_TOKEN": "tok-SECRET"}
    )
    response = client(handler.SPEC, ctx).get("/health")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "unhealthy"
    assert body["components"]["git"]["status"] == "unhealthy"
    assert "tok-SECRET" not in response.get_data(as_text=True)


def test_kubernetes_and_knative_from_recorded_responses(tmp: Path, recorder: Recorder) -> None:
    ready = {"status": {"conditions": [{"type": "Ready", "status": "True"}]}}
    failing = {
        "status": {
            "conditions": [{"type": "Ready", "status": "False", "reason": "RevisionMissing"}]
        }
    }
    base = "/apis/serving.knative.dev/v1/namespaces/b2g/services/"
    recorder.reply("/readyz", (200, "ok"))
    recorder.reply(base + "alert-router", (200, json.dumps(ready)))
    recorder.reply(base + "gitops-generator", (200, json.dumps(failing)))
    health = (
        f"health: {{kubernetes: true, kubernetes_url: '{recorder.url}', kubernetes_ca: null,"
        " namespace: b2g, knative_services: [alert-router, gitops-generator]}"
    )
    ctx = make_ctx(tmp, health)
    put_backup(ctx.store, "prod", "b0", timedelta(hours=1))  # type: ignore[arg-type]
    body = client(handler.SPEC, ctx).get("/health").get_json()
    comps = body["components"]
    assert comps["kubernetes"]["status"] == "healthy"
    assert comps["knative/alert-router"]["status"] == "healthy"
    assert comps["knative/gitops-generator"]["status"] == "unhealthy"
    assert "RevisionMissing" in comps["knative/gitops-generator"]["message"]
    assert body["status"] == "degraded"


def test_kubernetes_skipped_when_not_configured(tmp: Path) -> None:
    body = client(handler.SPEC, make_ctx(tmp)).get("/health").get_json()
    assert not any(name.startswith(("kubernetes", "knative/")) for name in body["components"])


def test_a_hanging_check_times_out(tmp: Path) -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        ctx = make_ctx(
            tmp,
            f"""alerts:
  receivers: [{{name: am, type: alertmanager, url: "http://127.0.0.1:{port}",
               health_url: "http://127.0.0.1:{port}/-/ready"}}]
  routes: [{{receivers: [am]}}]
""",
        )
        # the other checks (git, storage: critical) must finish within it on a busy machine
        ctx.config.health.check_timeout_s = 5
        # the server never answers: without the timeout this request would never return
        body = client(handler.SPEC, ctx).get("/health").get_json()
    am = body["components"]["receiver/am"]
    assert am["status"] == "unhealthy" and "timed out" in am["message"]
    assert body["status"] == "degraded"  # a receiver is not critical


def test_a_noop_generation_is_not_lag(tmp: Path) -> None:
    ctx = make_ctx(tmp, "health: {max_gitops_lag: PT1H}")
    put_backup(ctx.store, "prod", "b1", timedelta(hours=2))  # type: ignore[arg-type]
    generated = Event(
        id="g1",
        source="/backup2gitops/gitops-generator",
        type=events.GITOPS_GENERATED,
        time=NOW - timedelta(hours=1),
        cluster="prod",
        data={
            "cluster": "prod",
            "backup_id": "b1",
            "repository": "r",
            "branch": "main",
            "commit": "c" * 40,
            "noop": True,
        },
    )
    handler.handle(generated, ctx)
    body = client(handler.SPEC, ctx).get("/status").get_json()
    assert body["clusters"]["prod"]["lag_s"] == 0
    assert body["components"]["gitops-lag/prod"]["status"] == "healthy"


def test_health_through_a_lambda_function_url(tmp: Path) -> None:
    """template.yaml exposes health-aggregator with a Function URL (payload format 2.0)."""
    from backup2gitops.runtime.aws_lambda import lambda_adapter

    ctx = make_ctx(tmp)
    # two hours: more than the default max_gitops_lag of one (exactly one hour is not "more")
    put_backup(ctx.store, "prod", "b1", timedelta(hours=2))  # type: ignore[arg-type]
    lambda_handler = lambda_adapter(handler.SPEC, context=lambda: ctx)
    request = {
        "version": "2.0",
        "rawPath": "/health",
        "rawQueryString": "",
        "isBase64Encoded": False,
        "headers": {"accept": "application/json"},
        "requestContext": {"http": {"method": "GET", "path": "/health"}},
    }
    response = lambda_handler(request, None)
    assert response["statusCode"] == 503  # b1 landed 2 h ago, is not on the branch: stuck
    body = json.loads(response["body"])
    assert body["status"] == "unhealthy"
    assert body["components"]["gitops-lag/prod"]["status"] == "degraded"
    assert body["components"]["watchdog/prod"]["status"] == "unhealthy"
    assert body["components"]["freshness/prod"]["status"] == "healthy"
    metrics = lambda_handler({**request, "rawPath": "/metrics"}, None)
    assert metrics["statusCode"] == 200
    assert "backup2gitops_component_up" in metrics["body"]


def scrape_samples(ctx: FunctionContext) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client(handler.SPEC, ctx).get("/metrics")
    assert response.status_code == 200
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.get_data(as_text=True))
        for s in family.samples
    }


def add_commit(work: Path, remote: Path, *, backup_id: str, created: datetime, empty: bool) -> None:
    """A generator-like commit (its three trailers) pushed to ``remote``, committed 2 min after
    the backup completed."""
    if not empty:
        (work / f"{backup_id}.yaml").write_text(backup_id)
        git("add", "-A", cwd=work)
    stamp = (created + timedelta(minutes=2)).isoformat()
    message = (
        f"backup {backup_id}\n\nBackup-Id: {backup_id}\nCluster: prod\n"
        f"Backup-Created-At: {created.isoformat()}\n"
    )
    subprocess.run(
        ["git", "commit", "-q", "--allow-empty", "-m", message],
        cwd=work,
        check=True,
        env={**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
             "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t",
             "GIT_COMMITTER_DATE": stamp, "GIT_AUTHOR_DATE": stamp},
    )  # fmt: skip
    git("push", "-q", str(remote), "HEAD:main", cwd=work)


def test_flow_counters_come_from_the_branch_the_bucket_and_the_records_once_per_interval(
    tmp: Path,
) -> None:
    clock = {"now": NOW}
    ctx = make_ctx(tmp, "health: {metrics_cache_s: 60}")
    ctx.clock = lambda: clock["now"]
    remote = tmp / "remote.git"
    work = tmp / "pusher"
    git("clone", "-q", str(remote), str(work), cwd=tmp)
    created = NOW - timedelta(hours=3)
    add_commit(work, remote, backup_id="b1", created=created, empty=False)
    add_commit(work, remote, backup_id="b2", created=created, empty=True)
    put_backup(ctx.store, "prod", "b2", timedelta(hours=3))  # type: ignore[arg-type]
    put_backup(ctx.store, "prod", "b3", timedelta(hours=2))  # type: ignore[arg-type]
    ctx.store.put_bytes("state/deliveries/am/delivered/BackupFailed/prod/firing/d1", b"")
    ctx.store.put_bytes("state/deliveries/am/failed/BackupFailed/prod/firing/d1", b"")

    first = scrape_samples(ctx)
    prod = (("backup_cluster", "prod"),)
    assert first[("backup2gitops_flow_metrics_up", ())] == 1
    # b0 (the fixture's commit), b1, b2 on the branch; b3 only in the bucket
    assert first[("backup2gitops_backups_completed_total", prod)] == 4
    assert first[("backup2gitops_generations_total", prod)] == 3
    assert first[("backup2gitops_commits_total", prod)] == 2  # b2's commit is empty
    assert first[("backup2gitops_backups_failed_total", prod)] == 1
    delivered = (("outcome", "delivered"), ("receiver", "am"))
    assert first[("backup2gitops_alert_deliveries_total", delivered)] == 1
    assert first[("backup2gitops_backup_to_commit_seconds_count", prod)] == 2  # b0 has no trailer
    assert first[("backup2gitops_backup_to_commit_seconds_sum", prod)] == 240
    assert first[("backup2gitops_backup_to_commit_seconds_bucket", (*prod, ("le", "120.0")))] == 2
    assert first[("backup2gitops_backup_to_commit_seconds_bucket", (*prod, ("le", "60.0")))] == 0
    assert first[("backup2gitops_gitops_lagging", prod)] == 1  # b3 has waited 2 h, over PT1H
    assert first[("backup2gitops_backup_max_age_seconds", prod)] == 26 * 3600

    add_commit(work, remote, backup_id="b3", created=NOW - timedelta(hours=2), empty=False)
    clock["now"] = NOW + timedelta(seconds=59)
    assert scrape_samples(ctx) == first  # within the interval: nothing fetched again
    clock["now"] = NOW + timedelta(seconds=60)
    later = scrape_samples(ctx)
    assert later[("backup2gitops_generations_total", prod)] == 4
    assert later[("backup2gitops_backups_completed_total", prod)] == 4  # b3 counted once
    assert later[("backup2gitops_gitops_lagging", prod)] == 0


def test_unreadable_facts_leave_the_counters_out_instead_of_lowering_them(tmp: Path) -> None:
    ctx = make_ctx(tmp)
    ctx.config.git.url = str(tmp / "gone.git")  # type: ignore[misc]
    samples = scrape_samples(ctx)
    assert samples[("backup2gitops_flow_metrics_up", ())] == 0
    assert not [name for name, _ in samples if name.endswith("_total")]


def test_a_remote_nothing_was_pushed_to_yet_counts_zero_not_down(tmp_path: Path) -> None:
    bare_repository(tmp_path / "remote.git")
    samples = scrape_samples(make_ctx(tmp_path))
    assert samples[("backup2gitops_flow_metrics_up", ())] == 1
    assert not [name for name, _ in samples if name.startswith("backup2gitops_generations")]


def test_the_objects_changed_by_hand_reach_status_and_the_page(tmp: Path) -> None:
    """gitops.generated's ``unmanaged`` is kept per cluster: /status and the page show it, and a
    no-op that counted nothing (a redelivery) leaves the last count as it is."""
    ctx = make_ctx(tmp, "health: {max_gitops_lag: PT1H}")
    put_backup(ctx.store, "prod", "b1", timedelta(hours=2))  # type: ignore[arg-type]
    data = {"cluster": "prod", "repository": "r", "branch": "main", "commit": "c" * 40}
    for event_id, extra in (
        ("g1", {"backup_id": "b1", "unmanaged": 7}),
        ("g2", {"backup_id": "b1", "noop": True}),
    ):
        handler.handle(
            Event(
                id=event_id,
                source="/backup2gitops/gitops-generator",
                type=events.GITOPS_GENERATED,
                time=NOW - timedelta(hours=1),
                cluster="prod",
                data={**data, **extra},
            ),
            ctx,
        )
        http = client(handler.SPEC, ctx)
        assert http.get("/status").get_json()["clusters"]["prod"]["unmanaged"] == 7
    page = http.get("/").get_data(as_text=True)
    assert 'data-field="unmanaged">7 objects changed by hand</td>' in page
