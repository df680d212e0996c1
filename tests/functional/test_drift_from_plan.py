"""Drift from the plan equals drift read back from git, on a real bare remote (no mocks).

The generator compares the commit it writes with the tip from its plan
(``core.drift.TipComparison``: the objects it serialised, the tip's files they replace); a
redelivered backup reads the same comparison back from git (``adapters.git.changes``). Over a
backup with RBAC (roles changed, bound, removed, hand-written), Secrets, changed images,
privileged containers, credentials in clear, webhooks, CRDs and deleted objects, both give the
same changes, the same roles and the same findings - with the member cache and without, after
a lost race, and with Secrets under sops.
"""

from __future__ import annotations

import base64
import io
import os
import shutil
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from backup2gitops import generation
from backup2gitops.core import drift
from backup2gitops.core.cleaning import CleaningPolicy
from backup2gitops.core.events import DriftFinding
from tests.e2e import test_sops
from tests.fixtures.tarballs import backup_tarball, object_item
from tests.git_repos import bare_repository, git_dir_output, git_in, git_remote

RBAC = "rbac.authorization.k8s.io"
Item = tuple[str, dict[str, Any]]
GOBIN = Path(os.environ.get("GOPATH", str(Path.home() / "go"))) / "bin"
age_key = test_sops.age_key
"""The fixture ``age_key``: an age key pair, and sops on PATH."""


def obj(api: str, kind: str, name: str, ns: str | None = None, **body: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "uid": f"uid-{kind}-{name}", "resourceVersion": "3"}
    if ns is not None:
        meta["namespace"] = ns
    return {"apiVersion": api, "kind": kind, "metadata": meta, **body}


def role(kind: str, name: str, verbs: list[str], ns: str | None = None) -> Item:
    resource = "roles" if kind == "Role" else "clusterroles"
    rules = [{"apiGroups": [""], "resources": ["pods"], "verbs": verbs}]
    return f"{resource}.{RBAC}", obj(f"{RBAC}/v1", kind, name, ns, rules=rules)


def binding(
    kind: str, name: str, to: tuple[str, str], users: list[str], ns: str | None = None
) -> Item:
    resource = "rolebindings" if kind == "RoleBinding" else "clusterrolebindings"
    ref = {"apiGroup": RBAC, "kind": to[0], "name": to[1]}
    subjects = [{"kind": "User", "apiGroup": RBAC, "name": user} for user in users]
    return f"{resource}.{RBAC}", obj(f"{RBAC}/v1", kind, name, ns, roleRef=ref, subjects=subjects)


def deployment(name: str, ns: str, image: str, *, privileged: bool = False) -> Item:
    container: dict[str, Any] = {"name": "main", "image": image}
    if privileged:
        container["securityContext"] = {"privileged": True}
        container["env"] = [{"name": "DB_PASSWORD", "value": "hunter2-hunter2"}]
    template = {"metadata": {"labels": {"app": name}}, "spec": {"containers": [container]}}
    spec = {"selector": {"matchLabels": {"app": name}}, "template": template}
    return "deployments.apps", obj("apps/v1", "Deployment", name, ns, spec=spec)


def namespace(name: str, level: str) -> Item:
    labels = {"pod-security.kubernetes.io/enforce": level}
    return "namespaces", {"apiVersion": "v1", "kind": "Namespace",
                          "metadata": {"name": name, "labels": labels}}  # fmt: skip


def configmap(name: str, ns: str, data: dict[str, str]) -> Item:
    return "configmaps", obj("v1", "ConfigMap", name, ns, data=data)


def secret(name: str, ns: str, value: bytes) -> Item:
    data = {"password": base64.b64encode(value).decode()}
    return "secrets", obj("v1", "Secret", name, ns, type="Opaque", data=data)


def crd(plural: str) -> Item:
    versions = [{"name": "v1", "served": True, "storage": True}]
    spec = {"group": "example.com", "names": {"plural": plural, "kind": plural.title()},
            "scope": "Namespaced", "versions": versions}  # fmt: skip
    return (
        "customresourcedefinitions.apiextensions.k8s.io",
        obj("apiextensions.k8s.io/v1", "CustomResourceDefinition", f"{plural}.example.com",
            spec=spec),
    )  # fmt: skip


def webhook(client: dict[str, Any]) -> Item:
    hook = {"name": "audit.example.net", "clientConfig": client, "sideEffects": "None",
            "admissionReviewVersions": ["v1"]}  # fmt: skip
    return (
        "validatingwebhookconfigurations.admissionregistration.k8s.io",
        obj("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration", "audit-hook",
            webhooks=[hook]),
    )  # fmt: skip


PADDING = [configmap(f"pad-{i}", "shop", {"n": str(i)}) for i in range(30)]
B1: list[Item] = [
    namespace("shop", "restricted"),
    namespace("old", "baseline"),
    role("Role", "reader", ["get"], "shop"),
    role("Role", "writer", ["get", "list"], "shop"),
    role("ClusterRole", "wide", ["*"]),
    role("ClusterRole", "gone-role", ["get"]),
    binding("RoleBinding", "readers", ("Role", "reader"), ["alice"], "shop"),
    binding("ClusterRoleBinding", "old-admin", ("ClusterRole", "cluster-admin"), ["carol"]),
    deployment("web", "shop", "registry.example.com/web:1.0"),
    deployment("api", "shop", "registry.example.com/api:1.0"),
    deployment("gone", "old", "registry.example.com/gone:1.0"),
    configmap("cfg", "shop", {"a": "b"}),
    secret("db", "shop", b"first"),
    crd("widgets"),
    webhook({"service": {"name": "audit", "namespace": "shop"}}),
    *PADDING,
]
B2: list[Item] = [
    namespace("shop", "privileged"),  # relaxed
    # namespace "old" and everything in it deleted
    role("Role", "reader", ["get"], "shop"),  # unchanged
    role("Role", "writer", ["*"], "shop"),  # now a wildcard, and bound below
    role("ClusterRole", "wide", ["*"]),  # unchanged, newly bound below (read from the tip)
    # ClusterRole gone-role deleted, yet a new binding names it (an absent role)
    binding("RoleBinding", "readers", ("Role", "reader"), ["alice", "bob"], "shop"),
    binding("RoleBinding", "writers", ("Role", "writer"), ["dave"], "shop"),
    binding("ClusterRoleBinding", "wide-binding", ("ClusterRole", "wide"), ["erin"]),
    binding("ClusterRoleBinding", "dangling", ("ClusterRole", "gone-role"), ["frank"]),
    binding("ClusterRoleBinding", "hand-binding", ("ClusterRole", "hand-role"), ["gina"]),
    binding("ClusterRoleBinding", "new-admin", ("ClusterRole", "cluster-admin"), ["henry"]),
    deployment("web", "shop", "registry.example.com/web:2.0", privileged=True),
    deployment("api", "shop", "registry.example.com/api:2.0"),  # a new image only
    configmap("cfg", "shop", {"a": "b", "db_password": "s3cr3t-s3cr3t-s3cr3t"}),
    secret("db", "shop", b"second"),
    crd("gadgets"),  # widgets removed
    webhook({"url": "https://hooks.example.net/validate"}),
    *PADDING,
]
HAND_ROLE = """\
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: hand-role
  annotations:
    backup2gitops.io/hand-written: "true"
rules:
- apiGroups: ["*"]
  resources: ["*"]
  verbs: ["escalate", "bind"]
"""
HAND_CONFIG = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: hand
  namespace: shop
  annotations:
    backup2gitops.io/hand-written: "true"
data:
  api_token: t0k3n-t0k3n-t0k3n-t0k3n
"""


def tarball(items: list[Item]) -> bytes:
    return backup_tarball(object_item(group_resource, body) for group_resource, body in items)


@pytest.fixture
def bare(tmp_path: Path) -> Path:
    return bare_repository(tmp_path / "remote.git")


def hand_written(bare: Path, work: Path) -> None:
    """A person adds a ClusterRole and a ConfigMap of their own between two backups."""
    git_in(bare, "clone", "-q", str(bare), str(work))
    root = work / "clusters" / "prod"
    for path, text in {
        root / "cluster-scoped" / f"clusterroles.{RBAC}" / "hand-role.yaml": HAND_ROLE,
        root / "namespaces" / "shop" / "configmaps" / "hand.yaml": HAND_CONFIG,
    }.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    git_in(work, "add", "-A")
    git_in(work, "-c", "user.name=p", "-c", "user.email=p@e", "commit", "-qm", "by hand")
    git_in(work, "push", "-q", "origin", "main")


def generate(
    bare: Path, cache: Path, items: list[Item], backup_id: str, **options: Any
) -> generation.Outcome:
    data = tarball(items)
    return generation.generate(
        archive=lambda: io.BytesIO(data),
        remote=git_remote(bare, cache),
        cluster="prod",
        backup_id=backup_id,
        claims=generation.Claims(items=len(items), complete=True),
        compare=True,
        **options,
    )


def read_back(
    bare: Path, cache: Path, outcome: generation.Outcome, backup_id: str = "b2"
) -> drift.Comparison:
    found = git_remote(bare, cache).commit_comparison(
        commit=outcome.commit.commit,
        root=PurePosixPath("clusters/prod"),
        backup_id=backup_id,
        cluster="prod",
    )
    assert found is not None
    return found


def changes_of(compared: drift.Comparison) -> list[tuple[str, str, str, Any, Any]]:
    return sorted(
        ((c.kind, c.namespace or "", c.name, c.before, c.after) for c in compared.changes),
        key=lambda change: change[:3],
    )


def findings_of(compared: drift.Comparison) -> list[DriftFinding]:
    return drift.findings(
        compared.changes, facts=drift.Facts(roles=compared.roles), policy=drift.DriftPolicy()
    )


def assert_same(planned: drift.Comparison, read: drift.Comparison) -> list[DriftFinding]:
    assert (planned.commit, planned.previous) == (read.commit, read.previous)
    assert changes_of(planned) == changes_of(read)
    assert dict(planned.roles) == dict(read.roles)
    found = findings_of(planned)
    assert found == findings_of(read)
    return found


@pytest.mark.parametrize(
    ("member_cache", "secrets"), [(True, "plaintext"), (False, "redact"), (True, "exclude")]
)
def test_the_plans_comparison_is_the_one_git_reads_back(
    bare: Path, tmp_path: Path, member_cache: bool, secrets: Any
) -> None:
    policy = CleaningPolicy(secrets=secrets)
    options = {"policy": policy, "member_cache": member_cache}
    first = generate(bare, tmp_path / "c", B1, "b1", **options)
    assert first.compared is None  # the cluster's first commit is its baseline
    hand_written(bare, tmp_path / "hand")
    outcome = generate(bare, tmp_path / "c", B2, "b2", **options)
    planned = outcome.compared
    assert planned is not None and planned.commit == outcome.commit.commit
    found = assert_same(planned, read_back(bare, tmp_path / "c", outcome))

    kinds = {(kind, name) for kind, _, name, _, _ in changes_of(planned)}
    assert ("Deployment", "api") in kinds and ("Deployment", "gone") in kinds  # image; deleted
    assert ("ConfigMap", "pad-0") not in kinds and ("Role", "reader") not in kinds  # unchanged
    assert ("ConfigMap", "hand") not in kinds  # hand-written: kept, not removed
    assert not any(kind == "Secret" for kind, _ in kinds)  # no rule reads Secrets
    assert set(planned.roles) == {
        ("Role", "shop", "reader"),  # unchanged, read from the tip
        ("Role", "shop", "writer"),  # changed: as planned
        ("ClusterRole", None, "wide"),  # unchanged, newly bound
        ("ClusterRole", None, "hand-role"),  # hand-written, kept
    }  # gone-role is removed by this commit; cluster-admin is nobody's file
    assert {(f.rule, f.name) for f in found} >= {
        ("rbac-cluster-admin-binding", "new-admin"),
        ("rbac-wildcard-binding", "wide-binding"),
        ("rbac-wildcard-binding", "writers"),
        ("rbac-escalation-binding", "hand-binding"),
        ("rbac-new-subjects", "readers"),
        ("rbac-wildcard-role", "writer"),
        ("admission-webhook-external", "audit-hook"),
        ("crd-added", "gadgets.example.com"),
        ("crd-removed", "widgets.example.com"),
        ("namespace-deleted", "old"),
        ("pod-security-relaxed", "shop"),
        ("privileged-workload", "web"),
        ("credential-in-clear", "cfg"),
        ("credential-in-clear", "web"),
    }

    again = generate(bare, tmp_path / "c", B2, "b2", **options)  # the redelivery: a no-op
    assert again.commit.noop and again.compared is None  # it reads back (drift_report)


def test_an_unchanged_backup_compares_to_nothing_both_ways(bare: Path, tmp_path: Path) -> None:
    generate(bare, tmp_path / "c", B1, "b1", policy=CleaningPolicy())
    outcome = generate(bare, tmp_path / "c", B1, "b2", policy=CleaningPolicy())
    assert outcome.compared is not None and outcome.compared.changes == []
    assert read_back(bare, tmp_path / "c", outcome).changes == []


def test_after_a_race_re_applied_the_comparison_names_the_new_parent(
    bare: Path, tmp_path: Path
) -> None:
    """Another cluster's backup lands while this one is read: the folder is re-applied on the
    new tip without reading the archive again, and its comparison follows it there."""
    generate(bare, tmp_path / "c", B1, "b1", policy=CleaningPolicy())
    data = tarball(B2)
    opened: list[int] = []

    def archive() -> io.BytesIO:
        if not opened:
            generation.generate(
                archive=lambda: io.BytesIO(tarball(PADDING)),
                remote=git_remote(bare, tmp_path / "other"),
                cluster="stage",
                backup_id="s1",
                policy=CleaningPolicy(),
            )
        opened.append(1)
        return io.BytesIO(data)

    outcome = generation.generate(
        archive=archive,
        remote=git_remote(bare, tmp_path / "c"),
        cluster="prod",
        backup_id="b2",
        policy=CleaningPolicy(),
        claims=generation.Claims(items=len(B2), complete=True),
        compare=True,
    )
    assert opened == [1]  # re-applied, not read again
    planned = outcome.compared
    assert planned is not None
    assert "Backup-Id: s1" in git_dir_output(bare, "log", "-1", "--format=%B", "main^")
    assert planned.previous == git_dir_output(bare, "rev-parse", "main^").strip()
    assert_same(planned, read_back(bare, tmp_path / "c", outcome))


@pytest.mark.skipif(
    not (shutil.which("sops") or (GOBIN / "sops").exists())
    or not (shutil.which("age-keygen") or (GOBIN / "age-keygen").exists()),
    reason="sops and age-keygen are installed by scripts/install-test-deps.sh",
)
def test_with_secrets_under_sops_both_ways_agree(
    bare: Path, tmp_path: Path, age_key: tuple[str, Path]
) -> None:
    from backup2gitops.adapters.sops import SopsEncrypter

    public, _ = age_key
    options = {
        "policy": CleaningPolicy(secrets="sops"),
        "encrypt": SopsEncrypter(recipients=[public], digest_key=test_sops.DIGEST_KEY),
    }
    generate(bare, tmp_path / "c", B1, "b1", **options)
    outcome = generate(bare, tmp_path / "c", B2, "b2", **options)
    assert outcome.commit.changed > 0 and outcome.compared is not None
    assert_same(outcome.compared, read_back(bare, tmp_path / "c", outcome))
