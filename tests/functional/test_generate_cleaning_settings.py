"""``generate`` with the configuration's cleaning settings, end to end: the CLI in a subprocess,
real git, a backup tarball as cluster-backup writes it.

The configuration (``generator.cleaning``) excludes what Flux owns, names a controller of its
own, and ignores a field; the backup holds a hand-written Endpoints, a controller's Endpoints,
a Deployment an HPA scales and a webhook whose caBundle an injector wrote. The commit holds only
what people wrote, and every exclusion is counted under its reason.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from backup2gitops.core.archive import BackupItem
from tests.fixtures.tarballs import backup_tarball
from tests.functional.generate_cli import generate_report
from tests.functional.test_cli_errors import clean_env
from tests.git_repos import git_in

CONFIG = """\
generator:
  cleaning:
    gitops_owned: exclude
    field_managers:
      controllers: [acme-ca-rotator]
    ignore_differences:
      - group: apps
        kind: Deployment
        jqPathExpressions: ['.spec.template.metadata.annotations["acme.example/stamp"]']
"""


def _entry(manager: str, fields: dict[str, Any], operation: str = "Update") -> dict[str, Any]:
    return {
        "manager": manager,
        "operation": operation,
        "fieldsType": "FieldsV1",
        "fieldsV1": fields,
    }


OBJECTS: list[tuple[str, str | None, dict[str, Any]]] = [
    (
        "endpoints",
        "shop",
        {
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": {"name": "legacy-db", "namespace": "shop"},
            "subsets": [{"addresses": [{"ip": "10.0.0.5"}], "ports": [{"port": 5432}]}],
        },
    ),
    (
        "endpoints",
        "shop",
        {
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": {
                "name": "web",
                "namespace": "shop",
                "labels": {"endpoints.kubernetes.io/managed-by": "endpoint-controller"},
            },
        },
    ),
    (
        "configmaps",
        "shop",
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": "flux-owned",
                "namespace": "shop",
                "labels": {
                    "kustomize.toolkit.fluxcd.io/name": "apps",
                    "kustomize.toolkit.fluxcd.io/namespace": "flux-system",
                },
            },
            "data": {"a": "1"},
        },
    ),
    (
        "horizontalpodautoscalers.autoscaling",
        "shop",
        {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "web", "namespace": "shop"},
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                "minReplicas": 2,
                "maxReplicas": 4,
            },
        },
    ),
    (
        "deployments.apps",
        "shop",
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "shop"},
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {
                        "labels": {"app": "web"},
                        "annotations": {"acme.example/stamp": "2026-12-07T01:00:00Z"},
                    },
                    "spec": {"containers": [{"name": "web", "image": "web:1"}]},
                },
            },
        },
    ),
    (
        "validatingwebhookconfigurations.admissionregistration.k8s.io",
        None,
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingWebhookConfiguration",
            "metadata": {
                "name": "acme",
                "managedFields": [
                    _entry(
                        "kubectl",
                        {"f:webhooks": {'k:{"name":"a.acme.example"}': {".": {}, "f:name": {}}}},
                        "Apply",
                    ),
                    _entry(
                        "acme-ca-rotator",
                        {
                            "f:webhooks": {
                                'k:{"name":"a.acme.example"}': {
                                    "f:clientConfig": {"f:caBundle": {}}
                                }
                            }
                        },
                    ),
                ],
            },
            "webhooks": [
                {
                    "name": "a.acme.example",
                    "clientConfig": {"url": "https://acme.example/v", "caBundle": "Q0E="},
                    "sideEffects": "None",
                    "admissionReviewVersions": ["v1"],
                }
            ],
        },
    ),
]


def _archive(path: Path) -> Path:
    archive = path / "bucket" / "20261207t010000z" / "resources.tar.gz"
    archive.parent.mkdir(parents=True)
    archive.write_bytes(
        backup_tarball(
            BackupItem(group_resource, namespace, obj["metadata"]["name"], obj)
            for group_resource, namespace, obj in OBJECTS
        )
    )
    return archive


def test_generate_applies_the_configured_cleaning_settings(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG)
    env = clean_env(tmp_path, BACKUP2GITOPS_CONFIG=str(config))
    env["BACKUP2GITOPS_CONFIG"] = str(config)
    repo = tmp_path / "export"
    report = generate_report(tmp_path, _archive(tmp_path), repo, env=env)
    assert report["excluded_by_reason"] == {
        "builtin: maintained by the endpoint-controller (endpoints.kubernetes.io/managed-by)": 1,
        "gitops: managed by Flux Kustomization flux-system/apps": 1,
    }
    assert report["excluded"] == 2
    root = repo / "clusters" / "prod"
    endpoints = yaml.safe_load((root / "namespaces/shop/endpoints/legacy-db.yaml").read_text())
    assert endpoints["subsets"][0]["addresses"] == [{"ip": "10.0.0.5"}]
    deployment = yaml.safe_load((root / "namespaces/shop/deployments.apps/web.yaml").read_text())
    assert "replicas" not in deployment["spec"]  # the HPA in the backup sets it
    assert "annotations" not in deployment["spec"]["template"]["metadata"]  # ignored
    webhook = yaml.safe_load(
        (
            root
            / "cluster-scoped/validatingwebhookconfigurations.admissionregistration.k8s.io"
            / "acme.yaml"
        ).read_text()
    )
    assert webhook["webhooks"][0]["clientConfig"] == {"url": "https://acme.example/v"}
    message = git_in(repo, "log", "-1", "--format=%B")
    assert "gitops: managed by Flux Kustomization flux-system/apps: 1" in message
