"""The generator's member cache against a real bare remote: a daily backup decodes only what
changed, and what it commits is byte for byte what a full run of the same backup commits
(the folder's tree id, the cache included), whatever changed: an object, a dependency in
another object (StatefulSet claims, CRD schema defaults, HPA targets), the settings, the tree
by hand, or the cache itself."""

from __future__ import annotations

import copy
import io
import subprocess
from pathlib import Path
from typing import Any

import pytest

from backup2gitops import generation
from backup2gitops.adapters.git import GitRemote
from backup2gitops.core.archive import ArchiveWriter, BackupItem
from backup2gitops.core.cleaning import CleaningPolicy

ROOT = "clusters/prod"
CACHE = f"{ROOT}/.backup2gitops/members.cache"
"""The header; each namespace's records are in a file of their own (``SHARD``)."""
SHARDS = f"{ROOT}/.backup2gitops/members"
TEAM = f"{SHARDS}/team.cache"


def item(group_resource: str, obj: dict[str, Any]) -> BackupItem:
    meta = obj["metadata"]
    return BackupItem(group_resource, meta.get("namespace"), meta["name"], obj)


def configmap(name: str, value: str = "v") -> BackupItem:
    obj = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "team", "uid": f"u-{name}"},
        "data": {"key": value},
    }
    return item("configmaps", obj)


def deployment(name: str = "web", replicas: int = 3) -> BackupItem:
    obj = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "team"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": "nginx:1"}]},
            },
        },
    }
    return item("deployments.apps", obj)


def hpa(target: str = "web") -> BackupItem:
    obj = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": target, "namespace": "team"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
            "minReplicas": 1,
            "maxReplicas": 5,
        },
    }
    return item("horizontalpodautoscalers.autoscaling", obj)


def statefulset(templates: list[str]) -> BackupItem:
    obj = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "pg", "namespace": "team"},
        "spec": {
            "serviceName": "pg",
            "selector": {"matchLabels": {"app": "pg"}},
            "template": {
                "metadata": {"labels": {"app": "pg"}},
                "spec": {"containers": [{"name": "pg", "image": "postgres:16"}]},
            },
            "volumeClaimTemplates": [{"metadata": {"name": name}} for name in templates],
        },
    }
    return item("statefulsets.apps", obj)


def claim() -> BackupItem:
    obj = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data-pg-0", "namespace": "team", "labels": {"app": "pg"}},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }
    return item("persistentvolumeclaims", obj)


def crd(default: int | None) -> BackupItem:
    size: dict[str, Any] = {"type": "integer"}
    if default is not None:
        size["default"] = default
    obj = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"kind": "Widget", "plural": "widgets", "singular": "widget"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {"type": "object", "properties": {"size": size}}
                            },
                        }
                    },
                }
            ],
        },
    }
    return item("customresourcedefinitions.apiextensions.k8s.io", obj)


def widget() -> BackupItem:
    obj = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w", "namespace": "team"},
        "spec": {"size": 3, "color": "red"},
    }
    return item("widgets.example.com", obj)


def counted() -> list[BackupItem]:
    """What a commit message counts besides the objects: credentials in clear (a ConfigMap),
    an object managed by Flux (the others are changed by hand), an excluded Event, and a file
    name the layout escapes (its path is kept in the record)."""
    secret = configmap("creds")
    secret.obj["data"] = {"password": "hunter2hunter2", "token": "abcdefghijklmnopqrstuvwxyz012345"}
    flux = configmap("synced")
    flux.obj["metadata"]["labels"] = {"kustomize.toolkit.fluxcd.io/name": "apps"}
    event = item(
        "events",
        {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e1", "namespace": "team"}},
    )
    return [secret, flux, event, configmap("kustomization")]


def tarball(items: list[BackupItem]) -> bytes:
    out = io.BytesIO()
    with ArchiveWriter(out) as writer:
        for one in items:
            writer.add_item(one)
    return out.getvalue()


def init_bare(path: Path) -> Path:
    subprocess.run(["git", "init", "-q", "--bare", "--initial-branch=main", str(path)], check=True)
    return path


def git(bare: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "--git-dir", str(bare), *args], capture_output=True, text=True, check=True
    )
    return done.stdout


def run(
    bare: Path,
    items: list[BackupItem],
    *,
    backup_id: str,
    policy: CleaningPolicy | None = None,
    member_cache: bool = True,
    **options: Any,
) -> generation.Outcome:
    """``items`` as one backup committed to ``bare``; ``options``: other ``GenerationJob``
    fields (``dry_run``, ``compare``, ``record_unchanged``...)."""
    data = tarball(items)
    return generation.generate(
        archive=lambda: io.BytesIO(data),
        remote=GitRemote(
            url=str(bare),
            branch="main",
            cache_dir=bare.parent / f"{bare.name}-clones",
            author_name="t",
            author_email="t@example.com",
        ),
        cluster="prod",
        backup_id=backup_id,
        policy=policy or CleaningPolicy(),
        claims=generation.Claims(items=len(items), complete=True),
        member_cache=member_cache,
        **options,
    )


def folder_tree(bare: Path) -> str:
    return git(bare, "rev-parse", f"main:{ROOT}").strip()


def changed_files(bare: Path) -> set[str]:
    return set(git(bare, "diff", "--name-only", "main~1", "main").split())


def daily_equals_fresh(
    tmp_path: Path,
    first: list[BackupItem],
    second: list[BackupItem],
    *,
    policy: CleaningPolicy | None = None,
    second_policy: CleaningPolicy | None = None,
) -> tuple[generation.Outcome, Path]:
    """``second`` on top of ``first`` (the cache at work), and ``second`` alone in a new
    repository: the same folder, byte for byte, and the same figures."""
    daily = init_bare(tmp_path / "daily.git")
    run(daily, first, backup_id="b1", policy=policy)
    outcome = run(daily, second, backup_id="b2", policy=second_policy or policy)
    fresh = init_bare(tmp_path / "fresh.git")
    full = run(fresh, second, backup_id="b2", policy=second_policy or policy)
    assert folder_tree(daily) == folder_tree(fresh)
    figures = ("objects", "excluded", "excluded_by_reason", "kinds", "credentials")
    for figure in (*figures, "unmanaged", "unmanaged_names"):
        assert getattr(outcome.plan, figure) == getattr(full.plan, figure), figure
    return outcome, daily


def test_one_changed_member_rewrites_exactly_its_file(tmp_path: Path) -> None:
    first = [configmap(f"c{i}") for i in range(20)]
    second = [*first[:7], configmap("c7", "edited"), *first[8:]]
    outcome, daily = daily_equals_fresh(tmp_path, first, second)
    assert outcome.plan.decoded == 1
    assert (outcome.commit.added, outcome.commit.changed, outcome.commit.removed) == (0, 1, 0)
    assert changed_files(daily) == {f"{ROOT}/namespaces/team/configmaps/c7.yaml", CACHE, TEAM}


def other(name: str, namespace: str, value: str = "v") -> BackupItem:
    changed = configmap(name, value)
    changed.obj["metadata"]["namespace"] = namespace
    return item("configmaps", changed.obj)


def test_a_changed_namespace_rewrites_its_shard_and_no_other(tmp_path: Path) -> None:
    """The records are in one file per namespace: a backup that changed one namespace writes
    the header and that namespace's file; the others' blobs stay (no record read twice)."""
    first = [other(f"c{i}", f"ns-{i % 3}") for i in range(9)]
    first.append(
        item("namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns-0"}})
    )
    second = [*first]
    second[4] = other("c4", "ns-1", "edited")
    outcome, daily = daily_equals_fresh(tmp_path, first, second)
    assert outcome.plan.decoded == 1
    shards = git(daily, "ls-tree", "--name-only", "main", f"{SHARDS}/").split()
    assert shards == [f"{SHARDS}/{name}.cache" for name in ("_cluster", "ns-0", "ns-1", "ns-2")]
    assert changed_files(daily) == {
        f"{ROOT}/namespaces/ns-1/configmaps/c4.yaml",
        CACHE,
        f"{SHARDS}/ns-1.cache",
    }


def test_a_corrupt_shard_decodes_its_namespace_again(tmp_path: Path) -> None:
    """A shard that does not parse, or holds another namespace's records (moved by hand),
    adds no record: that namespace's members are decoded again, the others kept, and the
    folder is a full run's."""
    items = [other(f"c{i}", f"ns-{i % 2}") for i in range(6)]
    daily = init_bare(tmp_path / "daily.git")
    run(daily, items, backup_id="b1")
    ns1 = git(daily, "show", f"main:{SHARDS}/ns-1.cache").encode()
    commit_by_hand(daily, tmp_path / "hand", f"{SHARDS}/ns-0.cache", b"garbage\n" + ns1)
    outcome = run(daily, items, backup_id="b2")
    assert outcome.plan.decoded == 3  # ns-0's three, whose records are gone
    fresh = init_bare(tmp_path / "fresh.git")
    run(fresh, items, backup_id="b2")
    assert folder_tree(daily) == folder_tree(fresh)
    commit_by_hand(daily, tmp_path / "hand2", f"{SHARDS}/ns-0.cache", ns1)
    assert run(daily, items, backup_id="b3").plan.decoded == 3
    assert folder_tree(daily) == folder_tree(fresh)


def test_an_unchanged_backup_decodes_nothing_and_writes_nothing(tmp_path: Path) -> None:
    items = [configmap(f"c{i}") for i in range(5)]
    outcome, daily = daily_equals_fresh(tmp_path, items, items)
    assert outcome.plan.decoded == 0
    assert outcome.plan.objects == 5
    assert changed_files(daily) == set()  # the trailer commit alone


def test_a_member_gone_and_nothing_decoded_rewrites_the_cache(tmp_path: Path) -> None:
    """Every member kept is not an unchanged cache: a gone member's record must go too (the
    folder, cache included, equals a full run's)."""
    first = [configmap(f"c{i}") for i in range(5)]
    outcome, daily = daily_equals_fresh(tmp_path, first, first[1:])
    assert outcome.plan.decoded == 0
    gone = f"{ROOT}/namespaces/team/configmaps/c0.yaml"
    kustomization = f"{ROOT}/namespaces/team/kustomization.yaml"
    assert changed_files(daily) == {gone, kustomization, CACHE, TEAM}


def test_a_kept_member_counts_as_changed_by_hand_as_a_full_run_counts_it(tmp_path: Path) -> None:
    flux = configmap("synced")
    flux.obj["metadata"]["labels"] = {"kustomize.toolkit.fluxcd.io/name": "apps"}
    items = [configmap("by-hand"), flux]
    outcome, _daily = daily_equals_fresh(tmp_path, items, items)
    assert outcome.plan.decoded == 0
    assert (outcome.plan.unmanaged, outcome.plan.unmanaged_names) == (1, ["ConfigMap team/by-hand"])


def test_added_and_removed_members(tmp_path: Path) -> None:
    first = [configmap(f"c{i}") for i in range(5)]
    second = [*first[1:], configmap("new")]
    outcome, _daily = daily_equals_fresh(tmp_path, first, second)
    assert outcome.plan.decoded == 1
    assert (outcome.commit.added, outcome.commit.removed) == (1, 1)


def test_a_new_hpa_takes_replicas_off_an_unchanged_deployment(tmp_path: Path) -> None:
    _outcome, daily = daily_equals_fresh(tmp_path, [deployment()], [deployment(), hpa()])
    web = f"{ROOT}/namespaces/team/deployments.apps/web.yaml"
    assert web in changed_files(daily)
    assert "replicas" not in git(daily, "show", f"main:{web}")
    # and the HPA gone: the replicas come back
    _outcome, again = daily_equals_fresh(tmp_path / "back", [deployment(), hpa()], [deployment()])
    assert "replicas: 3" in git(again, "show", f"main:{web}")


def test_a_claim_template_added_to_a_statefulset_excludes_its_unchanged_claim(
    tmp_path: Path,
) -> None:
    first = [statefulset([]), claim()]
    second = [statefulset(["data"]), claim()]
    _outcome, daily = daily_equals_fresh(tmp_path, first, second)
    pvc = f"{ROOT}/namespaces/team/persistentvolumeclaims/data-pg-0.yaml"
    assert pvc in changed_files(daily)
    assert pvc not in git(daily, "ls-tree", "-r", "--name-only", "main")
    _outcome, back = daily_equals_fresh(tmp_path / "back", second, first)
    assert pvc in git(back, "ls-tree", "-r", "--name-only", "main")


def test_a_crd_default_prunes_an_unchanged_custom_resource(tmp_path: Path) -> None:
    _outcome, daily = daily_equals_fresh(tmp_path, [crd(None), widget()], [crd(3), widget()])
    cr = f"{ROOT}/namespaces/team/widgets.example.com/w.yaml"
    assert cr in changed_files(daily)
    assert "size" not in git(daily, "show", f"main:{cr}")
    daily_equals_fresh(tmp_path / "back", [crd(3), widget()], [crd(None), widget()])


def test_changed_settings_never_reuse_stale_output(tmp_path: Path) -> None:
    items = [configmap("c0"), configmap("c1")]
    strict = CleaningPolicy(exclude_namespaces=["team"])
    outcome, _daily = daily_equals_fresh(tmp_path, items, items, second_policy=strict)
    assert outcome.plan.objects == 0
    assert outcome.plan.decoded == 2


def test_a_file_edited_by_hand_is_written_again(tmp_path: Path) -> None:
    items = [configmap("c0"), configmap("c1")]
    daily = init_bare(tmp_path / "daily.git")
    run(daily, items, backup_id="b1")
    commit_by_hand(daily, tmp_path / "hand", f"{ROOT}/namespaces/team/configmaps/c0.yaml", b"x\n")
    outcome = run(daily, items, backup_id="b2")
    assert outcome.plan.decoded == 1
    fresh = init_bare(tmp_path / "fresh.git")
    run(fresh, items, backup_id="b2")
    assert folder_tree(daily) == folder_tree(fresh)


FORMAT_2 = (  # what the generator committed before FORMAT 3: JSON rows, one per member
    b'{"format":2,"settings":"e0f85e59c87ce7062bcbfb6e9b4b797f1e322864f057966256a74316ffec8aac",'
    b'"index":{}}\n["configmaps\\u0000team\\u0000c0","4512a525a2a851f8ebb8cadf22c30b3b","v1",'
    b'"ConfigMap",null,"clusters/prod/namespaces/team/configmaps/c0.yaml",'
    b'"fe818c0904651f79807188cc8e6d3b372111847a","ConfigMap",[],false,"ConfigMap team/c0"]\n'
)


@pytest.mark.parametrize("content", [b"garbage\n", b'{"format": 1}\n', b"", FORMAT_2])
def test_a_corrupt_cache_means_a_full_run(tmp_path: Path, content: bytes) -> None:
    items = [configmap("c0"), configmap("c1")]
    daily = init_bare(tmp_path / "daily.git")
    run(daily, items, backup_id="b1")
    commit_by_hand(daily, tmp_path / "hand", CACHE, content)
    outcome = run(daily, items, backup_id="b2")
    assert outcome.plan.decoded == 2
    fresh = init_bare(tmp_path / "fresh.git")
    run(fresh, items, backup_id="b2")
    assert folder_tree(daily) == folder_tree(fresh)


def test_kept_records_give_a_full_runs_figures(tmp_path: Path) -> None:
    """FORMAT 3's compact records, one file per namespace in FORMAT 4 (a shared shape, an
    unmanaged flag, credentials kept) count every kept member as a full run counts it:
    credentials in clear, by hand, exclusions."""
    items = [*counted(), *(configmap(f"c{i}") for i in range(3)), deployment()]
    outcome, daily = daily_equals_fresh(tmp_path, items, items)
    assert outcome.plan.decoded == 0
    assert outcome.plan.credentials_total == 2
    assert outcome.plan.excluded == 1
    assert outcome.plan.unmanaged == 6
    header, *rest = git(daily, "show", f"main:{CACHE}").splitlines()
    assert '"format":5' in header and rest == []
    lines = git(daily, "show", f"main:{TEAM}").splitlines()
    assert len(lines) == len(items)
    assert all(line.count("\t") == 11 for line in lines)
    paths = [line.split("\t")[9] for line in lines]
    assert paths.count("=") == 6  # the key's natural path; the escaped one written out
    assert [p for p in paths if p not in ("=", "")] == [
        f"{ROOT}/namespaces/team/configmaps/_kustomization.yaml"
    ]


def test_figures_counted_from_the_records_are_each_placements(tmp_path: Path) -> None:
    """The member pass counts every member from its record at the end, the members alike at
    once (``MemberPass._count``): the figures, their order included (kinds, exclusions, the
    credentials and names listed), are what ``account`` makes of each placement in turn
    (``plan_backup``), for a fresh run (every record just made) and a daily one (kept)."""

    def other(one: BackupItem, namespace: str | None) -> BackupItem:
        moved = copy.deepcopy(one)
        if namespace is None:
            moved.obj["metadata"].pop("namespace")
        else:
            moved.obj["metadata"]["namespace"] = namespace
        return item(moved.group_resource, moved.obj)

    team = [*counted(), *(configmap(f"c{i}") for i in range(12)), deployment()]
    items = [
        one
        for index, base in enumerate(team)
        for one in (base, other(base, "zeta"), other(base, f"a{index % 3}"))
    ]
    items.append(
        item("namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}})
    )
    full = generation.plan_backup(items, cluster="prod", policy=CleaningPolicy())
    figures = ("objects", "excluded", "credentials", "credentials_total", "unmanaged")
    fresh = run(init_bare(tmp_path / "fresh.git"), items, backup_id="b1")
    daily = init_bare(tmp_path / "daily.git")
    run(daily, items[::-1], backup_id="b0")
    kept = run(daily, items, backup_id="b1")
    assert kept.plan.decoded == 0
    for outcome in (fresh, kept):
        for figure in (*figures, "unmanaged_names"):
            assert getattr(outcome.plan, figure) == getattr(full, figure), figure
        assert list(outcome.plan.kinds.items()) == list(full.kinds.items())
        assert list(outcome.plan.excluded_by_reason.items()) == list(
            full.excluded_by_reason.items()
        )
    assert full.unmanaged > 10 and full.credentials_total > 2 and full.excluded > 2


def test_without_the_cache_every_member_is_decoded_and_none_is_written(tmp_path: Path) -> None:
    items = [configmap("c0")]
    bare = init_bare(tmp_path / "plain.git")
    run(bare, items, backup_id="b1", member_cache=False)
    outcome = run(bare, copy.deepcopy(items), backup_id="b2", member_cache=False)
    assert outcome.plan.decoded == 1
    assert ".backup2gitops" not in git(bare, "ls-tree", "-r", "--name-only", "main")


def commit_by_hand(bare: Path, work: Path, path: str, content: bytes) -> None:
    subprocess.run(["git", "clone", "-q", str(bare), str(work)], check=True)
    target = work / path
    target.write_bytes(content)
    env = ["-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run(["git", "-C", str(work), "add", path], check=True)
    subprocess.run(["git", "-C", str(work), *env, "commit", "-qm", "by hand"], check=True)
    subprocess.run(["git", "-C", str(work), "push", "-q", "origin", "main"], check=True)
