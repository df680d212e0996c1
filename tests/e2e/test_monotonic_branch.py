"""The branch never goes back in time: backups delivered in parallel, in any order, to separate
gitops-generator processes (functions-framework) pushing to one real git daemon remote."""

from __future__ import annotations

import contextlib
import random
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from backup2gitops.adapters.storage import FileStore
from backup2gitops.core import events
from backup2gitops.core.archive import BackupItem
from backup2gitops.native_backup_writer import write_native_backup
from backup2gitops.runtime import codec
from tests.e2e.git_daemon import git_daemon
from tests.e2e.servers import FUNCTIONS_DIR, serve_function
from tests.e2e.stores import announced
from tests.git_repos import git_dir_output

pytestmark = pytest.mark.e2e

PROCESSES = 4
BACKUPS = 6
T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Stack:
    urls: list[str]
    remote: str
    store: FileStore
    tmp: Path


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("monotonic")
    store = FileStore(tmp / "backups")
    with git_daemon(tmp / "srv") as base:
        remote = base + "gitops.git"
        config = tmp / "b2g.yaml"
        config.write_text(f"storage:\n  url: {store.url}\ngit:\n  url: {remote}\n")
        with contextlib.ExitStack() as stack_:
            urls = [
                stack_.enter_context(
                    serve_function(
                        FUNCTIONS_DIR / "main.py",
                        "gitops_generator",
                        env={
                            "BACKUP2GITOPS_CONFIG": str(config),
                            "BACKUP2GITOPS__GIT__CACHE_DIR": str(tmp / f"cache-{n}"),
                        },
                        log=tmp / f"generator-{n}.log",
                    )
                )
                for n in range(PROCESSES)
            ]
            yield Stack(urls=urls, remote=remote, store=store, tmp=tmp)


def completed_event(store: FileStore, *, cluster: str, backup_id: str, minute: int) -> events.Event:
    """Write a native backup whose one ConfigMap says which backup it is; its backup.completed."""
    item = BackupItem(
        group_resource="configmaps",
        namespace="shop",
        name="which",
        obj={
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "which", "namespace": "shop"},
            "data": {"backup": backup_id},
        },
    )
    finished = T0 + timedelta(minutes=minute)
    written = write_native_backup(
        store,
        [item],
        cluster=cluster,
        backup_id=backup_id,
        started_at=finished - timedelta(seconds=30),
        finished_at=finished,
    )
    return announced(store, written, cluster=cluster, backup_id=backup_id)


def deliver_in_parallel(urls: list[str], deliveries: list[events.Event]) -> list[events.Event]:
    """Every event at once (a barrier releases them together), event i to process i % n."""
    barrier = threading.Barrier(len(deliveries))
    replies: list[events.Event | None] = [None] * len(deliveries)
    failures: list[str] = []

    def send(i: int, event: events.Event) -> None:
        headers, body = codec.to_http(event)
        barrier.wait()
        response = requests.post(urls[i % len(urls)] + "/", headers=headers, data=body, timeout=120)
        if response.status_code != 200:
            failures.append(f"{event.id}: {response.status_code} {response.text[:300]}")
            return
        replies[i] = codec.parse_http(dict(response.headers), response.content)

    threads = [threading.Thread(target=send, args=(i, e)) for i, e in enumerate(deliveries)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, failures
    return [reply for reply in replies if reply is not None]


def mirror_of(remote: str, tmp: Path) -> Path:
    mirror = Path(tempfile.mkdtemp(dir=tmp, suffix=".git"))
    subprocess.run(["git", "clone", "-q", "--bare", remote, str(mirror)], check=True)
    return mirror


def branch_history(mirror: Path, cluster: str) -> list[tuple[str, str]]:
    """(Backup-Created-At, Backup-Id) of the cluster's commits on main, oldest first."""
    keys = ("Cluster", "Backup-Created-At", "Backup-Id")
    fmt = "%x1f".join(f"%(trailers:key={key},valueonly)" for key in keys)
    out = git_dir_output(mirror, "log", "--reverse", f"--format={fmt}%x1e", "main")
    history = []
    for record in out.split("\x1e"):
        parts = [p.strip() for p in record.strip().split("\x1f")]
        if len(parts) == 3 and parts[0] == cluster:
            history.append((parts[1], parts[2]))
    return history


def folder_says(mirror: Path, cluster: str) -> str:
    path = f"main:clusters/{cluster}/namespaces/shop/configmaps/which.yaml"
    text = git_dir_output(mirror, "show", path)
    return text.split("backup:")[1].strip()


@pytest.mark.parametrize("order", ["ascending", "descending", "shuffled-1", "shuffled-2"])
def test_parallel_deliveries_to_several_processes_end_on_the_newest(
    stack: Stack, order: str
) -> None:
    cluster = f"c-{order}"
    minutes = list(range(1, BACKUPS + 1))
    if order == "descending":
        minutes.reverse()
    elif order.startswith("shuffled"):
        random.Random(order).shuffle(minutes)  # noqa: S311 - a fixed, seeded order
    deliveries = [
        completed_event(stack.store, cluster=cluster, backup_id=f"b{m:02d}", minute=m)
        for m in minutes
    ]
    replies = deliver_in_parallel(stack.urls, deliveries)
    assert len(replies) == BACKUPS
    generated = [
        events.GitopsGenerated.model_validate(r.data)
        for r in replies
        if r.type == events.GITOPS_GENERATED
    ]
    committed = [g for g in generated if not g.noop]
    assert not [g for g in generated if g.noop]  # each backup arrives once here
    # an older backup than the tip's is an alert (gitops.failed out_of_order), not a quiet no-op
    skipped = [
        events.GitopsFailed.model_validate(r.data)
        for r in replies
        if r.type != events.GITOPS_GENERATED
    ]
    assert all(f.code == "out_of_order" and "older than" in f.message for f in skipped), skipped
    assert len(committed) + len(skipped) == BACKUPS
    assert f"b{BACKUPS:02d}" in {g.backup_id for g in committed}
    mirror = mirror_of(stack.remote, stack.tmp)
    history = branch_history(mirror, cluster)
    assert len(history) == len(committed)
    assert history == sorted(history), history  # never a step back in time
    assert folder_says(mirror, cluster) == f"b{BACKUPS:02d}"
    print(
        f"{order}: {len(deliveries)} parallel deliveries, {len(committed)} commits, "
        f"{len(skipped)} skipped as older"
    )

    # Everything again, in reverse, in parallel: redeliveries and stale backups, no commit.
    again = deliver_in_parallel(stack.urls, list(reversed(deliveries)))
    noops = [r for r in again if r.type == events.GITOPS_GENERATED]
    assert all(events.GitopsGenerated.model_validate(r.data).noop for r in noops)
    refused = [events.GitopsFailed.model_validate(r.data) for r in again if r not in noops]
    assert len(noops) == len(committed) and all(f.code == "out_of_order" for f in refused)
    assert branch_history(mirror_of(stack.remote, stack.tmp), cluster) == history
