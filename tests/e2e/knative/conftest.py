"""``project_on_knative``: the project's own ``knative/`` (with ``triggers/``) on real Knative.

One kube-apiserver + kube-controller-manager for the session, Knative Eventing's MT broker data
plane and Serving's controller on it (``control_plane``), and ``kustomize build knative/`` applied
after Knative's own defaulting: the Namespace, ConfigMap, RBAC, the Broker, the six Knative
Services, the SinkBindings, the Triggers and the PingSources. The fixture yields once the Broker,
every Trigger, every Knative Service and both PingSources are Ready. The functions behind the
Knative Services are the test module's to serve (``Knative.route``).
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests import kube_apiserver
from tests.e2e.knative import control_plane
from tests.e2e.knative.control_plane import Knative
from tests.e2e.servers import gopath_binary

REPO = Path(__file__).resolve().parents[3]
NAMESPACE = "backup2gitops"
BROKER = "backup2gitops"


@dataclass
class ProjectOnKnative:
    knative: Knative
    objects: list[dict[str, Any]]
    #: seconds from a fresh API server to the project's objects all Ready (printed; not asserted)
    start_s: float

    def names(self, kind: str) -> list[str]:
        return [o["metadata"]["name"] for o in self.objects if o["kind"] == kind]

    @property
    def broker_url(self) -> str:
        return self.knative.broker_url(NAMESPACE, BROKER)


def kustomize_build(path: Path) -> str:
    kustomize = gopath_binary("kustomize")
    assert kustomize is not None
    return subprocess.run(
        [str(kustomize), "build", str(path)], capture_output=True, text=True, check=True
    ).stdout


def wait_all_ready(plane: Knative, objects: list[dict[str, Any]], namespace: str) -> None:
    paths = {
        "Broker": "/apis/eventing.knative.dev/v1/namespaces/{ns}/brokers/{name}",
        "Trigger": "/apis/eventing.knative.dev/v1/namespaces/{ns}/triggers/{name}",
        "Service": "/apis/serving.knative.dev/v1/namespaces/{ns}/services/{name}",
        "PingSource": "/apis/sources.knative.dev/v1/namespaces/{ns}/pingsources/{name}",
    }
    for obj in objects:
        if obj["kind"] not in paths or not obj["apiVersion"].endswith("knative.dev/v1"):
            continue
        name = obj["metadata"]["name"]
        path = paths[obj["kind"]].format(ns=namespace, name=name)
        plane.wait_ready(path, what=f"{obj['kind']} {name} Ready")
        if obj["kind"] == "Trigger":
            plane.wait_trigger_in_filter(namespace, name)


@pytest.fixture(scope="session")
def project_on_knative(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProjectOnKnative]:
    if not kube_apiserver.available():
        pytest.skip(kube_apiserver.KUBE_MISSING)
    if not control_plane.available():
        pytest.skip(control_plane.KNATIVE_MISSING)
    workdir = tmp_path_factory.mktemp("knative")
    start = time.monotonic()
    with (
        kube_apiserver.kube_apiserver(workdir / "kube", controller_manager=True) as cluster,
        control_plane.knative(cluster, workdir / "knative") as plane,
    ):
        objects = plane.apply_defaulted(kustomize_build(REPO / "knative"), namespace=NAMESPACE)
        wait_all_ready(plane, objects, NAMESPACE)
        project = ProjectOnKnative(knative=plane, objects=objects, start_s=time.monotonic() - start)
        print(
            f"\nreal Knative: processes up in {plane.start_s:.1f} s, the project's objects "
            f"Ready {project.start_s:.1f} s after a fresh API server",
            file=sys.stderr,
        )
        (workdir / "start-seconds.txt").write_text(f"{plane.start_s:.1f} {project.start_s:.1f}\n")
        yield project
