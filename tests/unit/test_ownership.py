"""core.ownership: which files of a cluster's folder the generator owns, how it merges the
kustomizations it shares, and the generation job keeping foreign files (in-memory repository);
core.tree_diff and the job's dry run."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest
import yaml

from backup2gitops import generation
from backup2gitops.adapters.git.memory import MemoryRepository
from backup2gitops.core import ownership, tree_diff
from backup2gitops.core.archive import ArchiveWriter
from backup2gitops.core.cleaning import CleaningPolicy

ROOT = "clusters/prod"
UNIT = f"{ROOT}/namespaces/shop"


def content(text: str) -> Callable[[], bytes | None]:
    return lambda: text.encode()


def configmap(name: str, namespace: str | None = "shop", **annotations: str) -> str:
    metadata: dict[str, object] = {"name": name}
    if namespace:
        metadata["namespace"] = namespace
    if annotations:
        metadata["annotations"] = annotations
    return yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata})


@pytest.mark.parametrize(
    ("relative", "text", "owned"),
    [
        ("kustomization.yaml", "", True),
        ("namespaces/shop/kustomization.yaml", "", True),
        ("cluster-scoped/kustomization.yaml", "", True),
        ("flux/kustomization.yaml", "", True),
        ("flux/prod.ns.shop.yaml", "", True),
        (".backup2gitops/members.json", "", True),
        ("flux-system/kustomization.yaml", "", False),
        ("flux-system/gotk-components.yaml", "", False),
        ("README.md", "", False),
        ("namespaces/shop/extra.yaml", configmap("extra"), False),
        ("namespaces/shop/configmaps/cm.yaml", configmap("cm"), True),
        ("namespaces/shop/configmaps/cm.yaml", configmap("cm", namespace=None), True),
        ("namespaces/shop/configmaps/cm.yaml", configmap("other"), False),
        ("namespaces/shop/configmaps/cm.yaml", configmap("cm", namespace="web"), False),
        ("cluster-scoped/configmaps/cm.yaml", configmap("cm"), False),
        (
            "namespaces/shop/configmaps/cm.yaml",
            configmap("cm", **{ownership.FOREIGN_MARK: "true"}),
            False,
        ),
        (
            "namespaces/shop/configmaps/cm.yaml",
            configmap("cm", **{ownership.FOREIGN_MARK: "false"}),
            True,
        ),
        ("namespaces/shop/deployments.apps/cm.yaml", configmap("cm"), True),
        (
            "namespaces/shop/deployments.apps/web.yaml",
            "apiVersion: batch/v1\nkind: Job\nmetadata: {name: web}\n",
            False,
        ),
        ("namespaces/shop/configmaps/cm.yaml", "- not\n- a mapping\n", False),
        ("namespaces/shop/configmaps/cm.yaml", "{unclosed", False),
        (
            "namespaces/shop/configmaps/kustomization.yaml",
            "resources: [a.yaml, b.yaml]\n",
            True,
        ),
        (
            "namespaces/shop/overlay/kustomization.yaml",
            "resources: [../base]\n",
            False,
        ),
        (
            "namespaces/shop/overlay/kustomization.yaml",
            "resources: [a.yaml]\npatches: []\n",
            False,
        ),
    ],
)
def test_the_rule_without_a_record(relative: str, text: str, owned: bool) -> None:
    assert ownership.is_owned(relative, content(text)) is owned


def test_a_record_decides_when_there_is_one() -> None:
    tree = {
        f"{UNIT}/configmaps/cm.yaml": content(configmap("cm")),
        f"{UNIT}/configmaps/mine.yaml": content(configmap("mine")),
        f"{UNIT}/kustomization.yaml": content(""),
        f"{ROOT}/flux-system/gotk-sync.yaml": content(""),
        "clusters/other/kustomization.yaml": content(""),
    }
    record = {f"{UNIT}/configmaps/cm.yaml"}
    assert ownership.owned_paths(record, tree, root=ROOT) == {
        f"{UNIT}/configmaps/cm.yaml",
        f"{UNIT}/kustomization.yaml",
    }
    assert ownership.owned_paths(None, tree, root=ROOT) == {
        f"{UNIT}/configmaps/cm.yaml",
        f"{UNIT}/configmaps/mine.yaml",
        f"{UNIT}/kustomization.yaml",
    }


def shared_folder(files: dict[str, str]) -> ownership.SharedFolder:
    return ownership.SharedFolder(
        root=ROOT,
        tracked={path: tree_diff.blob_id(text.encode()) for path, text in files.items()},
        read=lambda path: files[path].encode() if path in files else None,
    )


def test_a_kustomization_keeps_its_foreign_entries_and_keys() -> None:
    committed = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "namespace": "shop",
        "resources": [
            "configmaps/gone.yaml",
            "extra.yaml",
            "configmaps/cm.yaml",
            "https://example.com/app.yaml",
            "../../../base",
            "missing.yaml",
            "extra.yaml",
        ],
    }
    folder = shared_folder(
        {
            f"{UNIT}/kustomization.yaml": yaml.safe_dump(committed),
            f"{UNIT}/configmaps/gone.yaml": configmap("gone"),
            f"{UNIT}/configmaps/cm.yaml": configmap("cm"),
            f"{UNIT}/extra.yaml": configmap("extra"),
        }
    )
    kept = folder.settle({f"{UNIT}/configmaps/cm.yaml", f"{UNIT}/kustomization.yaml"})
    assert kept == {f"{UNIT}/extra.yaml"}  # gone.yaml was ours: its object left the cluster
    merged = folder.kustomization(UNIT, ["configmaps/cm.yaml"])
    assert merged["namespace"] == "shop"
    assert merged["resources"] == [
        "configmaps/cm.yaml",
        "extra.yaml",
        "https://example.com/app.yaml",
        "../../../base",
        "missing.yaml",
    ]
    assert folder.missing == [f"{UNIT}/kustomization.yaml: missing.yaml"]
    assert folder.missing_total == 1


def test_a_generated_kustomization_stays_byte_for_byte() -> None:
    generated = yaml.safe_dump({"resources": ["configmaps/cm.yaml"]})
    folder = shared_folder({f"{UNIT}/kustomization.yaml": generated})
    folder.settle({f"{UNIT}/kustomization.yaml"})
    assert folder.kustomization(UNIT, ["configmaps/cm.yaml"])["resources"] == ["configmaps/cm.yaml"]
    assert folder.kustomization(f"{ROOT}/cluster-scoped", ["x.yaml"])["resources"] == ["x.yaml"]
    assert folder.missing == []


def archive(*names: str, managers: dict[str, str] | None = None) -> bytes:
    out = io.BytesIO()
    with ArchiveWriter(out) as writer:
        for name in names:
            manager = (managers or {}).get(name, "kubectl")
            obj = {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {
                    "name": name,
                    "namespace": "shop",
                    "managedFields": [{"manager": manager, "operation": "Apply"}],
                },
                "data": {"key": name},
            }
            writer.add(group_resource="configmaps", namespace="shop", name=name, obj=obj)
    return out.getvalue()


def job(
    repo: MemoryRepository, backup_id: str, *names: str, **options: object
) -> generation.GenerationJob:
    data = archive(*names, managers={"flux": "kustomize-controller"})
    return generation.GenerationJob(
        archive=lambda: io.BytesIO(data),
        remote=repo,
        cluster="prod",
        backup_id=backup_id,
        policy=CleaningPolicy(),
        claims=generation.Claims(items=len(names), complete=True),
        sleep=lambda _: None,
        **options,  # type: ignore[arg-type]
    )


def with_foreign_files(repo: MemoryRepository) -> None:
    """A person's commit on top: flux-system, a hand-written file listed in the unit."""
    files = repo.files()
    unit = yaml.safe_load(files[f"{UNIT}/kustomization.yaml"])
    unit["resources"].append("extra.yaml")
    files[f"{UNIT}/kustomization.yaml"] = yaml.safe_dump(unit).encode()
    files[f"{UNIT}/extra.yaml"] = configmap("extra").encode()
    files[f"{ROOT}/flux-system/gotk-sync.yaml"] = b"kind: GitRepository\n"
    files[f"{ROOT}/flux-system/kustomization.yaml"] = b"resources: [gotk-sync.yaml]\n"
    root = yaml.safe_load(files[f"{ROOT}/kustomization.yaml"])
    root["resources"].append("flux-system")
    files[f"{ROOT}/kustomization.yaml"] = yaml.safe_dump(root).encode()
    repo.branches["main"] = repo.add(repo.branches["main"], files, "a person's commit")


def test_the_job_keeps_foreign_files_and_counts_what_no_gitops_tool_manages() -> None:
    repo = MemoryRepository()
    first = job(repo, "b1", "a", "b", "flux").run()
    assert first.plan.unmanaged == 2 and first.plan.unmanaged_names == [
        "ConfigMap shop/a",
        "ConfigMap shop/b",
    ]
    with_foreign_files(repo)
    second = job(repo, "b2", "a", "flux").run()
    assert (second.commit.added, second.commit.changed, second.commit.removed) == (0, 0, 1)
    assert second.plan.kept_foreign == 3
    files = repo.files()
    assert f"{UNIT}/configmaps/b.yaml" not in files
    assert files[f"{ROOT}/flux-system/gotk-sync.yaml"] == b"kind: GitRepository\n"
    assert yaml.safe_load(files[f"{UNIT}/kustomization.yaml"])["resources"] == [
        "configmaps/a.yaml",
        "configmaps/flux.yaml",
        "extra.yaml",
    ]
    assert yaml.safe_load(files[f"{ROOT}/kustomization.yaml"])["resources"] == [
        "namespaces/shop",
        "flux-system",
    ]
    message = repo.head().message  # type: ignore[union-attr]
    assert "Kept, not written by backup2gitops: 3 files" in message
    assert "Not managed by any GitOps tool (1; changed by hand):\n  ConfigMap shop/a" in message


def test_a_dry_run_commits_nothing_and_lists_the_changes() -> None:
    repo = MemoryRepository()
    job(repo, "b1", "a", "b").run()
    with_foreign_files(repo)
    head, pushes = repo.branches["main"], repo.pushes
    outcome = job(repo, "b2", "a", "c", dry_run=True, diff=True).run()
    assert outcome.commit.dry_run and outcome.commit.commit == head
    assert repo.branches["main"] == head and repo.pushes == pushes
    assert (outcome.commit.added, outcome.commit.removed) == (1, 1)
    statuses = {change.path: change.status for change in outcome.commit.changes}
    assert statuses == {
        f"{UNIT}/configmaps/b.yaml": "removed",
        f"{UNIT}/configmaps/c.yaml": "added",
        f"{UNIT}/kustomization.yaml": "changed",
    }
    text = tree_diff.unified(outcome.commit.changes)
    assert f"--- a/{UNIT}/configmaps/b.yaml\n+++ /dev/null\n" in text
    assert "+- configmaps/c.yaml\n" in text and "-- configmaps/b.yaml\n" in text


def test_a_refused_dry_run_is_refused_as_the_commit_would_be() -> None:
    repo = MemoryRepository()
    job(repo, "b1", "a", "b", "c", "d").run()
    head = repo.branches["main"]
    data = archive("a")
    refused = generation.GenerationJob(
        archive=lambda: io.BytesIO(data),
        remote=repo,
        cluster="prod",
        backup_id="b2",
        policy=CleaningPolicy(),
        claims=generation.Claims(),  # nothing vouches for the deletions
        dry_run=True,
    )
    with pytest.raises(generation.BackupRefused) as caught:
        refused.run()
    assert caught.value.code == "mass_deletion" and repo.branches["main"] == head


def test_unified_marks_binary_files_and_a_missing_final_newline() -> None:
    changes = [
        tree_diff.FileChange("a.yaml", b"x: 1", b"x: 2"),
        tree_diff.FileChange("b.bin", None, b"\xff\xfe"),
    ]
    text = tree_diff.unified(changes)
    assert "-x: 1\n\\ No newline at end of file\n+x: 2\n" in text
    assert "Binary files /dev/null and b/b.bin differ\n" in text


def test_a_file_kept_as_committed_is_no_change() -> None:
    """A file given as None (the generator's member cache: the committed one stays) is passed on
    and is neither added, changed nor removed."""
    kept = f"{UNIT}/configmaps/cm.yaml"
    recorder = tree_diff.DiffRecorder(tracked={kept: tree_diff.blob_id(b"x")}, read=lambda _: b"x")
    files: list[tuple[str, bytes | None]] = [(kept, None)]
    assert list(recorder.record(files)) == files
    assert recorder.finish() == []
