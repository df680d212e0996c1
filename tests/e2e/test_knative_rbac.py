"""The RBAC that ``knative/`` ships, in force on a real kube-apiserver.

``knative/base/namespace.yaml`` and ``rbac.yaml`` are applied as they are; each function's
ServiceAccount gets a bound token (TokenRequest) and the function runs with it:
- cluster-backup, served by functions-framework and writing to a real MinIO, reads everything an
  admin's backup reads (Secrets left out, as configured), and with a permission less it replies
  ``backup.failed`` with ``kube_forbidden`` and the server's words for what it may not do;
- health-aggregator reads the Knative Services (their CRD made from the vendored Serving schema)
  and its ``/readyz``, and may do nothing else;
- the other three functions run as their own ServiceAccounts and may read nothing.
cluster-backup's ClusterRole is ``backup2gitops config rbac`` against this cluster's discovery
(custom resources included), as knative/README.md tells an operator to make it.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from backup2gitops.adapters import kube
from backup2gitops.adapters.storage import FileStore, MemoryStore
from backup2gitops.cluster_snapshot import write_cluster_backup
from backup2gitops.config import ClusterBackupConfig, parse_config
from backup2gitops.core.archive import BackupItem, iter_items
from backup2gitops.core.backup_manifest import parse_manifest
from backup2gitops.core.events import BACKUP_FAILED, PING
from backup2gitops.runtime.context import FunctionContext
from cluster_backup import handler as cluster_backup
from health_aggregator.measurement import measure
from tests import kube_apiserver
from tests.e2e.servers import (
    FUNCTIONS_DIR,
    MINIO_PASSWORD,
    MINIO_USER,
    minio_s3_client,
    minio_server,
    needs_minio,
    serve_function,
)
from tests.e2e.test_kube_apiserver import NOW, handle_backup
from tests.kube_apiserver import KubeCluster

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not kube_apiserver.available(), reason=kube_apiserver.KUBE_MISSING),
]
ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "knative" / "base"
NAMESPACE = "backup2gitops"
CLUSTER_ROLE = "backup2gitops-cluster-backup"
SERVING_SCHEMA = ROOT / "tests" / "deploy" / "schemas" / "knative-serving-service-v1.yaml"
PING_SOURCE = "/apis/v1/namespaces/backup2gitops/pingsources/backup2gitops-backup-schedule"


def generated_role(cluster: KubeCluster) -> str:
    """cluster-backup's ClusterRole as an operator makes it for a cluster with custom resources:
    ``backup2gitops config rbac`` against the cluster's discovery (knative/README.md)."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "backup2gitops",
            "config",
            "rbac",
            "--config",
            str(BASE / "config.yaml"),
            "--kubeconfig",
            str(cluster.kubeconfig),
        ],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(FUNCTIONS_DIR)},
        timeout=120,
    ).stdout


def apply_shipped_rbac(cluster: KubeCluster) -> None:
    for name in ("namespace.yaml", "rbac.yaml"):  # as kustomize would: into backup2gitops
        cluster.kubectl(
            "apply",
            "--server-side",
            "--field-manager=tests",
            "-n",
            NAMESPACE,
            "-f",
            str(BASE / name),
        )
    cluster.kubectl(
        "apply", "--server-side", "--field-manager=tests", "-f", "-", input=generated_role(cluster)
    )


@pytest.fixture(scope="module")
def deployed(kube_cluster: KubeCluster) -> KubeCluster:
    apply_shipped_rbac(kube_cluster)
    return kube_cluster


@pytest.fixture(scope="module")
def backup_token(deployed: KubeCluster) -> str:
    token = deployed.service_account_token(NAMESPACE, "cluster-backup")
    deployed.wait_until(token, "list", "configmaps", allowed=True)
    return token


@pytest.fixture
def narrowed(deployed: KubeCluster, backup_token: str) -> Iterator[Any]:
    """``narrow(rules)`` replaces the shipped ClusterRole's rules; the shipped RBAC comes back
    afterwards (and is in force again before the next test)."""

    def narrow(rules: list[dict[str, Any]], *, denied: tuple[str, str]) -> None:
        role = {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {
                "name": CLUSTER_ROLE,
                "labels": {"app.kubernetes.io/part-of": "backup2gitops"},
            },
            "rules": rules,
        }
        deployed.apply([role])
        verb, resource = denied
        deployed.wait_until(backup_token, verb, resource, allowed=False)

    try:
        yield narrow
    finally:
        apply_shipped_rbac(deployed)
        deployed.wait_until(backup_token, "list", "configmaps", allowed=True)


def items_of(archive: bytes) -> dict[str, BackupItem]:
    return {
        f"{i.group_resource}/{i.namespace or '-'}/{i.name}": i
        for i in iter_items(io.BytesIO(archive))
    }


def admin_backup(cluster: KubeCluster) -> dict[str, BackupItem]:
    store = MemoryStore()
    api = kube.api_client_from(kubeconfig=str(cluster.kubeconfig), in_cluster=False)
    with api:
        backup = write_cluster_backup(
            api,
            store,
            config=ClusterBackupConfig(cluster="prod"),
            cluster="prod",
            backup_id="20260301t000000z",
            started_at=NOW,
            clock=lambda: NOW,
        )
    return items_of(store.read_bytes(backup.written.archive_key))


def ping(time: str, event_id: str) -> dict[str, str]:
    return {
        "ce-specversion": "1.0",
        "ce-id": event_id,
        "ce-source": PING_SOURCE,
        "ce-type": PING,
        "ce-time": time,
        "Content-Type": "application/json",
    }


def rules_without(cluster: KubeCluster, missing: str) -> list[dict[str, Any]]:
    """get/list on every resource the server serves, group by group, but ``missing`` (core)."""
    api = kube.api_client_from(kubeconfig=str(cluster.kubeconfig), in_cluster=False)
    with api:
        discovered = kube.discover(api).resources
    groups: dict[str, set[str]] = {}
    for found in discovered:
        groups.setdefault(found.group, set()).add(found.resource)
    groups[""].discard(missing)
    return [
        {"apiGroups": [group], "resources": sorted(names), "verbs": ["get", "list"]}
        for group, names in sorted(groups.items())
    ]


# -- cluster-backup ----------------------------------------------------------------------------


@needs_minio
def test_cluster_backup_with_its_service_account_reads_what_an_admin_reads(
    deployed: KubeCluster, backup_token: str, narrowed: Any, tmp_path: Path
) -> None:
    cluster = deployed
    cluster.apply(
        [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}},
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "settings", "namespace": "shop"},
                "data": {"colour": "blue"},
            },
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "db", "namespace": "shop"},
                "stringData": {"password": "s3cr3t"},
            },
        ]
    )
    kubeconfig = cluster.kubeconfig_for(backup_token, tmp_path / "cluster-backup.kubeconfig")
    with minio_server(tmp_path) as minio:
        s3 = minio_s3_client(minio.url)
        s3.create_bucket(Bucket="backups")
        config = tmp_path / "config.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "storage": {
                        "url": "s3://backups",
                        "endpoint_url": minio.url,
                        "addressing_style": "path",
                    },
                    "cluster_backup": {"cluster": "prod", "kubeconfig": str(kubeconfig)},
                }
            )
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("BACKUP2GITOPS")}
        env |= {
            "BACKUP2GITOPS_CONFIG": str(config),
            "AWS_ACCESS_KEY_ID": MINIO_USER,
            "AWS_SECRET_ACCESS_KEY": MINIO_PASSWORD,
        }
        source = FUNCTIONS_DIR / "main.py"
        with serve_function(source, "cluster_backup", env=env, log=tmp_path / "ff.log") as url:
            done = requests.post(url, headers=ping("2026-03-01T02:00:00Z", "tick-1"), data=b"{}")
            assert done.status_code == 202, done.text
            prefix = "backups/prod/20260301t020000z/"
            manifest = parse_manifest(
                s3.get_object(Bucket="backups", Key=prefix + "manifest.json")["Body"].read()
            )
            archive = s3.get_object(Bucket="backups", Key=prefix + "resources.tar.gz")[
                "Body"
            ].read()

            # one permission less: no list of configmaps
            narrowed(rules_without(cluster, "configmaps"), denied=("list", "configmaps"))
            refused = requests.post(url, headers=ping("2026-03-01T03:00:00Z", "tick-2"), data=b"{}")
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket="backups").get("Contents", [])]

    ours, admins = items_of(archive), admin_backup(cluster)
    assert set(ours) == set(admins)
    assert "configmaps/shop/settings" in ours and "namespaces/-/shop" in ours
    assert not any(key.startswith("secrets/") for key in ours)  # include_secrets is off
    assert manifest.warnings == []
    assert sum(manifest.resource_counts.values()) == len(ours)

    assert refused.status_code == 200 and refused.headers["ce-type"] == BACKUP_FAILED
    data = json.loads(refused.content)
    assert data["code"] == "kube_forbidden"
    assert 'cannot list resource "configmaps"' in data["message"]
    assert "system:serviceaccount:backup2gitops:cluster-backup" in data["message"]
    assert backup_token not in refused.text
    assert not [k for k in keys if k.startswith("backups/prod/20260301t030000z/")]  # nothing left


def test_cluster_backup_without_list_fails_clearly(
    deployed: KubeCluster, backup_token: str, narrowed: Any, tmp_path: Path
) -> None:
    narrowed(
        [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["get"]}], denied=("list", "namespaces")
    )
    kubeconfig = deployed.kubeconfig_for(backup_token, tmp_path / "kubeconfig")
    store = MemoryStore()
    reply = handle_backup(cluster_backup.client_from_config, store=store, kubeconfig=kubeconfig)
    assert reply is not None and reply.type == BACKUP_FAILED
    assert reply.data["code"] == "kube_forbidden"
    assert "cannot list resource" in reply.data["message"]
    assert list(store.list()) == []


def test_the_committed_role_is_the_servers_own_resources(deployed: KubeCluster) -> None:
    """knative/base/cluster-backup-role.yaml (made offline, from the built-in list) grants what
    the generator makes from this API server's discovery, custom resources aside."""
    crds = json.loads(deployed.kubectl("get", "crd", "-o", "json").stdout)["items"]
    custom = {crd["spec"]["group"] for crd in crds}
    discovered = yaml.safe_load(generated_role(deployed))["rules"]
    expected = [rule for rule in discovered if rule["apiGroups"][0] not in custom]
    committed = yaml.safe_load((BASE / "cluster-backup-role.yaml").read_text())["rules"]
    assert committed == expected


def test_cluster_backup_may_read_but_never_write_or_watch(
    deployed: KubeCluster, backup_token: str
) -> None:
    can = deployed.can
    assert can(backup_token, "list", "deployments", group="apps")
    assert can(backup_token, "get", "customresourcedefinitions", group="apiextensions.k8s.io")
    assert not can(backup_token, "list", "secrets")  # include_secrets is false: not granted
    assert not can(backup_token, "get", "secrets", namespace="default")
    for verb in ("create", "update", "patch", "delete", "deletecollection", "watch"):
        assert not can(backup_token, verb, "configmaps", namespace="default"), verb
    assert not can(backup_token, "impersonate", "users")
    assert not can(backup_token, "create", "serviceaccounts/token", namespace=NAMESPACE)


@pytest.mark.parametrize("account", ["backup-complete", "gitops-generator", "alert-router"])
def test_the_other_functions_may_read_nothing(deployed: KubeCluster, account: str) -> None:
    # their own ServiceAccounts (no token mounted in their pods; a bound one asked for here)
    token = deployed.service_account_token(NAMESPACE, account)
    assert not deployed.can(token, "list", "configmaps", namespace=NAMESPACE)
    assert not deployed.can(
        token, "get", "services", group="serving.knative.dev", namespace=NAMESPACE
    )
    assert not deployed.can(token, "list", "namespaces")


# -- health-aggregator -------------------------------------------------------------------------


def serving_crd() -> dict[str, Any]:
    """services.serving.knative.dev, v1, with the vendored schema (tests/deploy/schemas)."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "services.serving.knative.dev"},
        "spec": {
            "group": "serving.knative.dev",
            "scope": "Namespaced",
            "names": {
                "kind": "Service",
                "listKind": "ServiceList",
                "plural": "services",
                "singular": "service",
                "shortNames": ["kservice", "ksvc"],
                "categories": ["all", "knative", "serving"],
            },
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "schema": {"openAPIV3Schema": yaml.safe_load(SERVING_SCHEMA.read_text())},
                }
            ],
        },
    }


@pytest.fixture(scope="module")
def knative_services(deployed: KubeCluster) -> KubeCluster:
    """The Serving CRD, the five Services of knative/base/services, four Ready, one not."""
    deployed.apply([serving_crd()])
    deployed.kubectl(
        "wait", "--for=condition=Established", "--timeout=60s", "crd/services.serving.knative.dev"
    )
    for manifest in sorted((BASE / "services").glob("*.yaml")):
        deployed.kubectl(
            "apply", "--server-side", "--field-manager=tests", "-n", NAMESPACE, "-f", str(manifest)
        )
    for manifest in sorted((BASE / "services").glob("*.yaml")):
        name = yaml.safe_load(manifest.read_text())["metadata"]["name"]
        ready = name != "alert-router"
        condition = {"type": "Ready", "status": "True" if ready else "False"}
        if not ready:
            condition["reason"] = "RevisionMissing"
        status = json.dumps({"status": {"conditions": [condition]}})
        deployed.kubectl(
            "patch",
            "ksvc",
            name,
            "-n",
            NAMESPACE,
            "--subresource=status",
            "--type=merge",
            "-p",
            status,
        )
    return deployed


def test_health_aggregator_reads_the_knative_services_with_its_service_account(
    knative_services: KubeCluster, tmp_path: Path
) -> None:
    cluster = knative_services
    token = cluster.service_account_token(NAMESPACE, "health-aggregator")
    cluster.wait_until(
        token, "get", "services", group="serving.knative.dev", namespace=NAMESPACE, allowed=True
    )
    (tmp_path / "token").write_text(token)
    config = parse_config(
        yaml.safe_dump(
            {
                "storage": {"url": (tmp_path / "bucket").as_uri()},
                "git": {"url": str(tmp_path / "absent.git"), "cache_dir": str(tmp_path / "cache")},
                "health": {
                    "kubernetes": True,
                    "kubernetes_url": cluster.url,
                    "kubernetes_token": {"file": str(tmp_path / "token")},
                    "kubernetes_ca": str(cluster.ca_file),
                    "namespace": NAMESPACE,
                    "check_timeout_s": 30,
                },
            }
        )
    )
    (tmp_path / "bucket").mkdir()
    ctx = FunctionContext(config, store=FileStore(tmp_path / "bucket"), environ={})
    components = measure(ctx).report.components
    assert components["kubernetes"].status == "healthy", components["kubernetes"].message
    for name in ("backup-complete", "gitops-generator", "cluster-backup", "health-aggregator"):
        assert components[f"knative/{name}"].status == "healthy", components[f"knative/{name}"]
    router = components["knative/alert-router"]
    assert router.status == "unhealthy" and "RevisionMissing" in router.message


def test_health_aggregator_may_get_knative_services_and_nothing_else(
    knative_services: KubeCluster,
) -> None:
    cluster = knative_services
    token = cluster.service_account_token(NAMESPACE, "health-aggregator")
    knative = {"group": "serving.knative.dev"}
    assert cluster.can(token, "get", "services", namespace=NAMESPACE, **knative)
    # it reads five Services by name: no list, no watch, no write, nowhere else
    for verb in ("list", "watch", "create", "update", "patch", "delete"):
        assert not cluster.can(token, verb, "services", namespace=NAMESPACE, **knative), verb
    assert not cluster.can(token, "get", "services", namespace="default", **knative)
    assert not cluster.can(token, "get", "services", namespace=NAMESPACE)  # core Services
    assert not cluster.can(token, "get", "configmaps", namespace=NAMESPACE)
    assert not cluster.can(token, "get", "secrets", namespace=NAMESPACE)
    assert not cluster.can(token, "get", "revisions", namespace=NAMESPACE, **knative)
