"""Knative's own admission checks on every build: Serving's and Eventing's Go code, not ours.

``knative-validate`` (tests/deploy/knative-validate, built by scripts/install-test-deps.sh from the
knative.dev/serving and knative.dev/eventing releases pinned in its go.mod) decodes each document
strictly into that release's type and runs ``SetDefaults`` then ``Validate`` in a create context,
with the configuration of a default installation -- what the admission webhooks run on
``kubectl apply``. The negative cases prove the program can fail.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from b2g_deploy_checks import REPO, kustomize_command

KNATIVE = REPO / "knative"
BUILDS = [
    KNATIVE,
    KNATIVE / "base",
    *sorted(p.parent for p in (KNATIVE / "overlays").glob("*/kustomization.yaml")),
    REPO / "triggers",
]
# What Serving/Eventing own, so what must be checked (not skipped) where it appears.
KNATIVE_KINDS = {
    "serving.knative.dev/v1/Service",
    "eventing.knative.dev/v1/Broker",
    "eventing.knative.dev/v1/Trigger",
    "sources.knative.dev/v1/PingSource",
    "sources.knative.dev/v1/SinkBinding",
}
# Kinds neither Serving nor Eventing validates: core Kubernetes, the Prometheus operator, and
# KafkaSource (eventing-kafka-broker's, a module not pinned here).
OTHER_KINDS = {
    "v1/Namespace",
    "v1/ConfigMap",
    "v1/ServiceAccount",
    "rbac.authorization.k8s.io/v1/ClusterRole",
    "rbac.authorization.k8s.io/v1/ClusterRoleBinding",
    "rbac.authorization.k8s.io/v1/Role",
    "rbac.authorization.k8s.io/v1/RoleBinding",
    "networking.k8s.io/v1/NetworkPolicy",  # Kubernetes' own: tests/e2e/test_pod_security.py
    "monitoring.coreos.com/v1/PrometheusRule",
    "monitoring.coreos.com/v1/PodMonitor",
    "sources.knative.dev/v1beta1/KafkaSource",
}


def knative_validate() -> str:
    explicit = os.environ.get("KNATIVE_VALIDATE")
    if explicit:
        return explicit
    gopath = Path(os.environ.get("GOPATH") or Path.home() / "go")
    for candidate in (gopath / "bin" / "knative-validate", Path("/root/go/bin/knative-validate")):
        if candidate.is_file():
            return str(candidate)
    found = shutil.which("knative-validate")
    if found:
        return found
    pytest.skip("knative-validate is not built: run scripts/install-test-deps.sh")


def run(stream: str, *flags: str) -> tuple[int, list[dict[str, Any]], str]:
    proc = subprocess.run(
        [knative_validate(), *flags],
        input=stream,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    results = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    return proc.returncode, results, proc.stderr


def build(path: Path) -> str:
    proc = subprocess.run(
        [*kustomize_command(), "build", str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def service(name: str) -> dict[str, Any]:
    (doc,) = [
        d
        for d in yaml.safe_load_all(build(KNATIVE))
        if d and d["kind"] == "Service" and d["metadata"]["name"] == name
    ]
    return dict(doc)


@pytest.mark.parametrize("path", BUILDS, ids=lambda p: str(p.relative_to(REPO)))
def test_a_default_knative_admits_every_object(path: Path) -> None:
    code, results, stderr = run(build(path))
    invalid = [r for r in results if r["result"] != "valid" and r["result"] != "skipped"]
    assert invalid == [] and code == 0, stderr
    kinds = {f"{r['apiVersion']}/{r['kind']}": r["result"] for r in results}
    assert {k for k, v in kinds.items() if v == "skipped"} <= OTHER_KINDS
    assert {k for k, v in kinds.items() if v == "valid"} <= KNATIVE_KINDS
    assert not [r for r in results if r.get("warnings")]


def test_the_base_has_every_knative_kind_checked() -> None:
    _, results, _ = run(build(KNATIVE))
    checked = {f"{r['apiVersion']}/{r['kind']}" for r in results if r["result"] == "valid"}
    assert checked == KNATIVE_KINDS
    assert len([r for r in results if r["kind"] == "Trigger"]) >= 10


def test_serving_rejects_a_timeout_over_its_default_maximum() -> None:
    """Proof the program runs Serving's rules: 900 s is over max-revision-timeout-seconds 600."""
    svc = service("cluster-backup")
    svc["spec"]["template"]["spec"]["timeoutSeconds"] = 900
    code, (result,), _ = run(yaml.safe_dump(svc))
    assert code == 1 and result["result"] == "invalid"
    assert "spec.template.spec.timeoutSeconds" in result["errors"]
    # ...and the one config-defaults setting a cluster would change to admit it
    code, (result,), _ = run(yaml.safe_dump(svc), "-serving", "max-revision-timeout-seconds=900")
    assert code == 0 and result["result"] == "valid"


def test_unknown_fields_are_rejected_as_the_webhooks_decode_strictly() -> None:
    svc = service("alert-router")
    svc["spec"]["template"]["spec"]["timeoutSecond"] = 60
    code, (result,), _ = run(yaml.safe_dump(svc))
    assert code == 1 and "timeoutSecond" in result["errors"]


def test_eventing_rejects_what_its_webhook_rejects() -> None:
    trigger = {
        "apiVersion": "eventing.knative.dev/v1",
        "kind": "Trigger",
        "metadata": {"name": "t", "namespace": "backup2gitops"},
        "spec": {
            "broker": "backup2gitops",
            "filters": [{"exact": {"Type": "x"}}],
            "subscriber": {"uri": "http://example.invalid/"},
            "delivery": {"backoffPolicy": "quadratic", "timeout": "PT0S"},
        },
    }
    code, (result,), _ = run(yaml.safe_dump(trigger))
    assert code == 1
    for field in ("filters", "backoffPolicy", "timeout"):
        assert field in result["errors"], result["errors"]
