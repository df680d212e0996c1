"""generation + the git adapter against a real bare remote (no mocks)."""

from __future__ import annotations

import io
import threading
from pathlib import Path
from typing import Any

import pytest

from backup2gitops import generation
from backup2gitops.adapters.git import GitError, display_url
from backup2gitops.core.archive import BackupItem
from backup2gitops.core.cleaning import CleaningPolicy
from tests.fixtures.tarballs import backup_tarball as tarball
from tests.git_repos import bare_repository, git_remote
from tests.git_repos import git_dir_output as git


def configmap(ns: str, name: str, value: str) -> BackupItem:
    obj: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name,
            "namespace": ns,
            "uid": f"uid-{name}",
            "resourceVersion": "7",
            "creationTimestamp": "2026-01-01T00:00:00Z",
        },
        "data": {"key": value},
    }
    return BackupItem(group_resource="configmaps", namespace=ns, name=name, obj=obj)


def event(ns: str) -> BackupItem:
    obj = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e1", "namespace": ns}}
    return BackupItem(group_resource="events", namespace=ns, name="e1", obj=obj)


@pytest.fixture
def bare(tmp_path: Path) -> Path:
    return bare_repository(tmp_path / "remote.git")


def run(
    bare: Path,
    cache: Path,
    items: list[BackupItem],
    *,
    backup_id: str,
    cluster: str = "prod",
    claims: generation.Claims | None = None,
) -> generation.Outcome:
    """One generation; by default the backup is confirmed complete (as backup-complete says)."""
    data = tarball(items)
    return generation.generate(
        archive=lambda: io.BytesIO(data),
        remote=git_remote(bare, cache),
        cluster=cluster,
        backup_id=backup_id,
        policy=CleaningPolicy(),
        claims=claims or generation.Claims(items=len(items), complete=True),
    )


def test_one_commit_per_backup_with_trailers_and_noop_on_redelivery(
    bare: Path, tmp_path: Path
) -> None:
    items = [configmap("shop", "a", "1"), configmap("shop", "b", "2"), event("shop")]
    first = run(bare, tmp_path / "c1", items, backup_id="b1")
    assert not first.commit.noop and first.commit.added == 2
    assert first.plan.objects == 2 and first.plan.excluded == 1
    message = git(bare, "log", "-1", "--format=%B")
    assert "Backup-Id: b1" in message and "Cluster: prod" in message
    assert "ConfigMap in shop: 2" in message
    tree = git(bare, "ls-tree", "-r", "--name-only", "main").split()
    assert "clusters/prod/namespaces/shop/configmaps/a.yaml" in tree
    assert not any("events" in p for p in tree)
    again = run(bare, tmp_path / "c2", items, backup_id="b1")  # another instance, same backup
    assert again.commit.noop and again.commit.commit == first.commit.commit
    assert git(bare, "rev-list", "--count", "main").strip() == "1"


def test_changes_and_removals_are_counted_and_deleted(bare: Path, tmp_path: Path) -> None:
    run(
        bare,
        tmp_path / "c",
        [configmap("shop", "a", "1"), configmap("shop", "b", "2")],
        backup_id="b1",
    )
    second = run(bare, tmp_path / "c", [configmap("shop", "a", "changed")], backup_id="b2")
    assert (second.commit.added, second.commit.changed, second.commit.removed) == (0, 1, 1)
    tree = git(bare, "ls-tree", "-r", "--name-only", "main").split()
    assert "clusters/prod/namespaces/shop/configmaps/b.yaml" not in tree


def test_other_clusters_files_are_untouched(bare: Path, tmp_path: Path) -> None:
    run(bare, tmp_path / "c", [configmap("shop", "a", "1")], backup_id="b1", cluster="prod")
    run(bare, tmp_path / "c", [configmap("ops", "x", "1")], backup_id="s1", cluster="stage")
    tree = git(bare, "ls-tree", "-r", "--name-only", "main").split()
    assert "clusters/prod/namespaces/shop/configmaps/a.yaml" in tree
    assert "clusters/stage/namespaces/ops/configmaps/x.yaml" in tree


def test_racing_generators_for_different_clusters_both_land_without_force(
    bare: Path, tmp_path: Path
) -> None:
    errors: list[BaseException] = []

    def worker(cluster: str) -> None:
        try:
            for n in range(3):
                run(
                    bare,
                    tmp_path / f"cache-{cluster}",
                    [configmap("ns", f"o{n}", cluster)],
                    backup_id=f"{cluster}-{n}",
                    cluster=cluster,
                )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(c,)) for c in ("east", "west")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    log = git(bare, "log", "--format=%(trailers:key=Backup-Id,valueonly)", "main").split()
    assert sorted(log) == sorted([f"{c}-{n}" for c in ("east", "west") for n in range(3)])


def test_a_remote_that_rejects_the_push_is_left_as_it_was(bare: Path, tmp_path: Path) -> None:
    run(bare, tmp_path / "c", [configmap("shop", "a", "1")], backup_id="b1")
    before = git(bare, "rev-parse", "main")
    hook = bare / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'protected branch' >&2\nexit 1\n")
    hook.chmod(0o755)
    with pytest.raises(GitError) as caught:
        run(bare, tmp_path / "c", [configmap("shop", "a", "2")], backup_id="b2")
    assert caught.value.code == "push_rejected" and caught.value.retryable is False
    assert git(bare, "rev-parse", "main") == before


def test_credentials_never_appear_in_display_urls() -> None:
    assert display_url("https://user:tok3n@git.example.com/org/repo.git") == (
        "https://git.example.com/org/repo.git"
    )
    assert "tok3n" not in display_url("https://tok3n@git.example.com/r.git")


@pytest.mark.parametrize(
    ("stderr", "code"),
    [
        (
            "fatal: unable to access 'https://h/r.git/': The requested URL returned error: 403",
            "auth_failed",
        ),
        (
            "remote: HTTP Basic: Access denied\nfatal: Authentication failed for 'https://h/r'",
            "auth_failed",
        ),
        # a push race on a remote whose path (pytest-403/) or object ids hold "403": retryable
        (
            "To /tmp/pytest-of-root/pytest-403/bare.git\n ! [remote rejected] main -> main "
            "(cannot lock ref 'refs/heads/main': is at 4031ab9 but expected 9f403c2)",
            "push_raced",
        ),
    ],
)
def test_only_an_http_403_or_a_refusal_reads_as_refused_credentials(stderr: str, code: str) -> None:
    from backup2gitops.adapters.git.errors import classify

    assert classify(stderr, where="/tmp/pytest-of-root/pytest-403/bare.git").code == code


def _item(group_resource: str, obj: dict[str, Any]) -> BackupItem:
    meta = obj["metadata"]
    return BackupItem(group_resource, meta.get("namespace"), meta["name"], obj)


def test_the_index_pass_decides_objects_that_come_before_what_decides_them(
    bare: Path, tmp_path: Path
) -> None:
    """In the archive the claim precedes its StatefulSet and the custom resource its CRD;
    the claim is left out with its reason in the commit message, the CR loses its default."""
    claim = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data-db-0", "namespace": "shop", "labels": {"app": "db"}},
        "spec": {"resources": {"requests": {"storage": "1Gi"}}},
    }
    person_claim = {**claim, "metadata": {"name": "scratch", "namespace": "shop"}}
    widget = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w", "namespace": "shop"},
        "spec": {"replicas": 1, "size": "s"},
    }
    statefulset = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "db", "namespace": "shop"},
        "spec": {
            "selector": {"matchLabels": {"app": "db"}},
            "volumeClaimTemplates": [{"metadata": {"name": "data"}}],
        },
    }
    schema = {
        "type": "object",
        "properties": {"spec": {"type": "object", "properties": {"replicas": {"default": 1}}}},
    }
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "names": {"kind": "Widget", "plural": "widgets"},
            "scope": "Namespaced",
            "versions": [{"name": "v1", "schema": {"openAPIV3Schema": schema}}],
        },
    }
    items = [
        _item("persistentvolumeclaims", claim),
        _item("persistentvolumeclaims", person_claim),
        _item("widgets.example.com", widget),
        _item("statefulsets.apps", statefulset),
        _item("customresourcedefinitions.apiextensions.k8s.io", crd),
    ]
    outcome = run(bare, tmp_path / "c", items, backup_id="b1")
    reason = "builtin: claim from a StatefulSet's volumeClaimTemplates (the StatefulSet creates it)"
    assert outcome.plan.excluded_by_reason == {reason: 1}
    assert f"Excluded:\n  {reason}: 1" in git(bare, "log", "-1", "--format=%B")
    tree = git(bare, "ls-tree", "-r", "--name-only", "main").split()
    assert "clusters/prod/namespaces/shop/persistentvolumeclaims/scratch.yaml" in tree
    assert not any(p.endswith("data-db-0.yaml") for p in tree)
    written = git(bare, "show", "main:clusters/prod/namespaces/shop/widgets.example.com/w.yaml")
    assert "size: s" in written and "replicas" not in written


def _race(bare: Path, tmp_path: Path, *, other_cluster: str) -> tuple[generation.Outcome, int]:
    """Generate ``east``; while its archive is read the first time, another generator lands a
    backup of ``other_cluster``. The outcome, and how many times the archive was opened."""
    data = tarball([configmap("ns", "mine", "east")])
    opened: list[int] = []

    def archive() -> io.BytesIO:
        if not opened:
            theirs = [configmap("ns", "theirs", "x"), configmap("ns", "mine", "old")]
            run(
                bare,
                tmp_path / "other",
                theirs,
                backup_id="o1",
                cluster=other_cluster,
            )
        opened.append(1)
        return io.BytesIO(data)

    outcome = generation.generate(
        archive=archive,
        remote=git_remote(bare, tmp_path / "mine"),
        cluster="east",
        backup_id="e1",
        policy=CleaningPolicy(),
    )
    return outcome, len(opened)


def test_a_race_lost_to_another_cluster_is_re_applied_without_reading_the_archive_again(
    bare: Path, tmp_path: Path
) -> None:
    outcome, opened = _race(bare, tmp_path, other_cluster="west")
    assert opened == 1  # one read: the folder's tree went on the new tip as it was
    assert (outcome.commit.added, outcome.commit.noop) == (1, False)
    assert git(bare, "rev-parse", "main").strip() == outcome.commit.commit
    assert "Backup-Id: o1" in git(bare, "log", "-1", "--format=%B", "main^")
    files = git(bare, "ls-tree", "-r", "--name-only", "main").split()
    assert "clusters/east/namespaces/ns/configmaps/mine.yaml" in files
    assert "clusters/west/namespaces/ns/configmaps/theirs.yaml" in files
    message = git(bare, "log", "-1", "--format=%B", "main")
    assert "Backup-Id: e1" in message and "Cluster: east" in message


def test_a_race_lost_to_the_same_cluster_redoes_the_whole_change(
    bare: Path, tmp_path: Path
) -> None:
    outcome, opened = _race(bare, tmp_path, other_cluster="east")
    assert opened == 2  # the folder moved under us: read again
    files = git(bare, "ls-tree", "-r", "--name-only", "main").split()
    assert "clusters/east/namespaces/ns/configmaps/mine.yaml" in files
    assert "clusters/east/namespaces/ns/configmaps/theirs.yaml" not in files
    assert (outcome.commit.changed, outcome.commit.removed) == (1, 1)
