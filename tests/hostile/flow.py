"""gitops-generator's handler over a real bare remote, for hostile backups one after another."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from backup2gitops.adapters.storage import MemoryStore
from backup2gitops.config import Config, GitConfig
from backup2gitops.core import events
from backup2gitops.core.archive import BackupItem
from backup2gitops.runtime import failures
from backup2gitops.runtime.context import FunctionContext
from gitops_generator import handler
from tests.fixtures.tarballs import backup_tarball
from tests.git_repos import bare_repository, git_dir_output

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
Item = tuple[str, str | None, str, dict[str, Any]]
BASE: list[Item] = [
    (
        "namespaces",
        None,
        "shop",
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}},
    ),
    (
        "configmaps",
        "shop",
        "cfg",
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "cfg", "namespace": "shop"},
            "data": {"a": "b"},
        },
    ),
]


def archive(items: list[Item]) -> bytes:
    return backup_tarball(BackupItem(*item) for item in items)


class Flow:
    """One cluster's backups through gitops-generator, in order; what it published and committed."""

    def __init__(self, tmp_path: Path) -> None:
        self.remote = tmp_path / "remote.git"
        bare_repository(self.remote)
        self.store = MemoryStore("backups")
        self.published: list[events.Event] = []
        config = Config(git=GitConfig(url=str(self.remote), cache_dir=tmp_path / "cache"))
        self.ctx = FunctionContext(
            config, store=self.store, publish=self.published.append, environ={}, clock=lambda: T0
        )
        self.count = 0

    def backup(self, items: list[Item]) -> events.Event:
        return self.backup_bytes(archive(items), items=len(items))

    def backup_bytes(self, body: bytes, *, items: int) -> events.Event:
        """gitops-generator's reply to the next backup, whose archive is ``body``."""
        self.count += 1
        backup_id = f"b{self.count}"
        key = f"backups/prod/{backup_id}/resources.tar.gz"
        self.store.put_bytes(key, body)
        data = events.BackupCompleted(
            backup_id=backup_id,
            cluster="prod",
            format="native",
            bucket="backups",
            keys=[f"backups/prod/{backup_id}/manifest.json", key],
            size=len(body),
            sha256=hashlib.sha256(body).hexdigest(),
            resource_count=items,
            created_at=T0 + timedelta(minutes=self.count),
        )
        event = events.Event(
            id=f"in-{backup_id}",
            source="/backup2gitops/backup-complete",
            type=events.BACKUP_COMPLETED,
            data=data.model_dump(mode="json"),
            cluster="prod",
        )
        try:
            reply = handler.handle(event, self.ctx)
        except Exception as exc:
            received = handler.INPUT.read(event)
            reply = handler.failure_event(received, failures.classify(exc), self.ctx)
        assert reply is not None
        return reply

    def findings(self) -> list[events.DriftFinding]:
        found: list[events.DriftFinding] = []
        for event in self.published:
            if event.type == events.GITOPS_DRIFTED:
                found += events.parse_data(event, events.GitopsDrifted).findings
        return found

    def files(self) -> list[str]:
        return git_dir_output(self.remote, "ls-tree", "-r", "--name-only", "main").split("\n")

    def history(self) -> str:
        """Every blob ever committed, as text (what a clone of the repository holds)."""
        return git_dir_output(self.remote, "log", "-p", "--all", "--format=%B")
