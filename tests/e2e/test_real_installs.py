"""Real-world installs, as their projects publish them, round-tripped through two real API servers.

The installs (tests/e2e/installs/SOURCES.md: module, version, path, licence) are read from the Go
module cache, where scripts/fetch-installs.sh put them. On API server A (+ kube-controller-manager)
they are applied as their docs say (CRDs first; ``kubectl create`` for prometheus-operator's
bundle, ``kubectl apply -f`` / ``-k`` for the rest), then the objects people write
(tests/e2e/kube/realistic*.yaml), then the controllers' own calls are replayed on the installs'
real objects (tests/e2e/controller_calls.py): ingress-nginx's kube-webhook-certgen update of its
admission webhook's caBundle, cert-manager cainjector's forced server-side apply of the caBundle of
the conversion webhook prometheus-operator documents for AlertmanagerConfig, an HPA scale update of
podinfo as kube-controller-manager, Flux's finalizer on a Flux Kustomization.

A is backed up with cluster-backup and its repository generated; the repository holds no object no
person applied. B is installed the same way, B's own injectors run with B's own CA and B's HPA
scales; then the repository is applied as Flux does (CRDs and Namespaces first, then server-side
apply as kustomize-controller, without --force-conflicts): no conflict, B keeps its CA and its
replica count; B backed up and generated again gives the same tree (0 files differ).

No install's controller can run here (no nodes: pods stay Pending), so no webhook has a backend.
Both API servers run with ``--enable-aggregator-routing=true``: webhooks, conversion webhooks and
APIServices are resolved through endpoints (there are none), never through a ClusterIP, so no
request leaves loopback; a webhook then fails at once, as its failurePolicy says. Hence the one
object of realistic.yaml left out here: its Ingress, which ingress-nginx's admission webhook
(failurePolicy Fail) refuses while the controller that answers it cannot run.
"""

from __future__ import annotations

import base64
import collections
import json
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from backup2gitops import cluster_snapshot
from backup2gitops.adapters import kube as kube_api
from backup2gitops.config import ClusterBackupConfig
from backup2gitops.core import cleaning
from backup2gitops.core.archive import iter_items
from backup2gitops.core.cleaning.gitops_owners import gitops_owner
from backup2gitops.core.cleaning.objectref import ObjectRef
from tests.e2e import controller_calls
from tests.e2e.kube_flow import Generated, backup_and_generate, manifests
from tests.kube_apiserver import KUBE_MISSING, KubeCluster, available, kube_apiserver

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(not available(), reason=KUBE_MISSING)]

HERE = Path(__file__).parent
MODULES = HERE / "installs" / "modules.txt"
WORKLOADS = HERE / "kube"
CLUSTER = "platform"
INGRESS_WEBHOOK = "ingress-nginx-admission"
CONVERTED_CRD = "alertmanagerconfigs.monitoring.coreos.com"
FLUX_KUSTOMIZATION = (
    "/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/default/kustomizations/webapp-dev"
)
AGGREGATOR_ROUTING = ("--enable-aggregator-routing=true",)


def _module_dirs() -> dict[str, Path]:
    """Each pinned module's folder in the Go module cache (scripts/fetch-installs.sh)."""
    cache = subprocess.run(
        ["go", "env", "GOMODCACHE"], capture_output=True, text=True, check=True
    ).stdout.strip()
    dirs = {}
    for line in MODULES.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        module, version = line.split()
        escaped = "".join(f"!{c.lower()}" if c.isupper() else c for c in module)
        dirs[module] = Path(cache) / f"{escaped}@{version}"
    return dirs


def _installs_missing() -> str | None:
    try:
        missing = [m for m, d in _module_dirs().items() if not d.is_dir()]
    except (OSError, subprocess.CalledProcessError) as exc:
        return f"no Go toolchain to find the module cache: {exc}"
    return f"not in the Go module cache: {missing}: scripts/fetch-installs.sh" if missing else None


@dataclass(frozen=True)
class Step:
    """One install step as its project documents it: the manifest text and how it is applied."""

    source: str
    text: str
    how: str  # "apply" (kubectl apply), "create" (kubectl create), "patch-crd" (kubectl patch)


class _Loader(yaml.SafeLoader):
    """YAML as kubectl reads it: a plain ``=`` (in prometheus-operator's CRD enums) is the string
    "=", not PyYAML's YAML 1.1 value tag, which its safe loader refuses."""


_Loader.add_constructor("tag:yaml.org,2002:value", _Loader.construct_yaml_str)


def _documents(text: str) -> list[dict[str, Any]]:
    return [d for d in yaml.load_all(text, Loader=_Loader) if isinstance(d, dict)]


def _files(folder: Path, *names: str) -> str:
    return "\n---\n".join((folder / name).read_text() for name in names)


def _install_steps(kube: KubeCluster) -> list[Step]:
    dirs = _module_dirs()
    nginx = dirs["k8s.io/ingress-nginx"]
    prom = dirs["github.com/prometheus-operator/prometheus-operator"]
    metrics = dirs["sigs.k8s.io/metrics-server"]
    podinfo = dirs["github.com/stefanprodan/podinfo"]
    certs = dirs["github.com/cert-manager/cert-manager"]
    flux = dirs["github.com/fluxcd/kustomize-controller"]
    started = prom / "example" / "user-guides" / "getting-started"

    def kustomize(folder: Path) -> str:  # what `kubectl apply -k folder` applies
        return kube.kubectl("kustomize", str(folder)).stdout

    crds = sorted((certs / "deploy" / "crds").glob("*.yaml"))
    return [
        Step(
            "cert-manager deploy/crds",
            _files(certs / "deploy" / "crds", *[p.name for p in crds]),
            "apply",
        ),
        Step("prometheus-operator bundle.yaml", (prom / "bundle.yaml").read_text(), "create"),
        Step("kustomize-controller config/crd", kustomize(flux / "config" / "crd"), "apply"),
        Step(
            "ingress-nginx deploy/static/provider/cloud/deploy.yaml",
            (nginx / "deploy" / "static" / "provider" / "cloud" / "deploy.yaml").read_text(),
            "apply",
        ),
        Step(
            "metrics-server manifests/overlays/release",
            kustomize(metrics / "manifests" / "overlays" / "release"),
            "apply",
        ),
        Step("podinfo kustomize/", kustomize(podinfo / "kustomize"), "apply"),
        Step(
            "prometheus-operator example/rbac/prometheus",
            _files(
                prom / "example" / "rbac" / "prometheus",
                *sorted(p.name for p in (prom / "example" / "rbac" / "prometheus").glob("*.yaml")),
            ),
            "apply",
        ),
        Step(
            "prometheus-operator example/user-guides/getting-started",
            _files(started, *sorted(p.name for p in started.glob("*.yaml"))),
            "apply",
        ),
        Step(
            "prometheus-operator example/alertmanager-crd-conversion/patch.json",
            (prom / "example" / "alertmanager-crd-conversion" / "patch.json").read_text(),
            "patch-crd",
        ),
        Step(
            "kustomize-controller config/samples/kustomize_v1_kustomization.yaml",
            (flux / "config" / "samples" / "kustomize_v1_kustomization.yaml").read_text(),
            "apply",
        ),
    ]


def _people_steps() -> list[Step]:
    """tests/e2e/kube/realistic*.yaml as test_kube_restore applies them (less the Ingress)."""
    plain = [
        d for d in _documents((WORKLOADS / "realistic.yaml").read_text()) if d["kind"] != "Ingress"
    ]
    return [
        Step("realistic-crds.yaml", (WORKLOADS / "realistic-crds.yaml").read_text(), "apply"),
        Step(
            "realistic.yaml",
            json.dumps({"apiVersion": "v1", "kind": "List", "items": plain}),
            "apply",
        ),
        Step(
            "realistic-server-side.yaml",
            (WORKLOADS / "realistic-server-side.yaml").read_text(),
            "server-side",
        ),
    ]


def _run(kube: KubeCluster, step: Step) -> None:
    if step.how == "patch-crd":
        name = json.loads(step.text)["metadata"]["name"]
        kube.kubectl("patch", "crd", name, "--type=merge", "--patch", step.text)
        return
    verb = {"apply": ["apply"], "create": ["create"], "server-side": ["apply", "--server-side"]}[
        step.how
    ]
    kube.kubectl(*verb, "-f", "-", input=step.text)
    for doc in _documents(step.text):
        if doc["kind"] == "CustomResourceDefinition":
            kube.kubectl(
                "wait",
                "--for=condition=Established",
                f"crd/{doc['metadata']['name']}",
                "--timeout=120s",
            )


def _identities(steps: list[Step]) -> set[tuple[str, str, str]]:
    """(kind, namespace as written or "", name) of every object the steps applied; the test
    compares kind and name only (an object written without a namespace lands in ``default``)."""
    found = set()
    for step in steps:
        if step.how == "patch-crd":
            continue
        for doc in _documents(step.text):
            items = doc["items"] if doc["kind"] == "List" else [doc]
            for item in items:
                meta = item["metadata"]
                found.add((item["kind"], meta.get("namespace", ""), meta["name"]))
    return found


def _install_platform(kube: KubeCluster, steps: list[Step]) -> None:
    for step in steps:
        _run(kube, step)


def _own_ca(kube: KubeCluster) -> str:
    """The cluster's own CA certificate, base64, as an injector puts it in a caBundle."""
    return base64.b64encode(kube.ca_file.read_bytes()).decode()


def _inject_and_scale(kube: KubeCluster, replicas: int) -> None:
    """The controllers' calls on the installs' objects, with this cluster's own CA."""
    ca = _own_ca(kube)
    controller_calls.patch_with_certgen(kube, "ValidatingWebhookConfiguration", INGRESS_WEBHOOK, ca)
    controller_calls.inject_crd_with_cainjector(kube, CONVERTED_CRD, ca)
    controller_calls.scale_as_hpa(kube, "default", "podinfo", replicas)


def _kustomize_build(
    generated: Generated, workdir: Path, kube: KubeCluster
) -> list[dict[str, Any]]:
    checkout = workdir / "checkout"
    subprocess.run(["git", "clone", "-q", str(generated.remote), str(checkout)], check=True)
    return _documents(kube.kubectl("kustomize", str(checkout / "clusters" / CLUSTER)).stdout)


def _apply_as_flux(
    kube: KubeCluster, objects: list[dict[str, Any]]
) -> subprocess.CompletedProcess[str]:
    """CRDs and Namespaces first, then everything: server-side, as kustomize-controller, no force."""
    first = [o for o in objects if o["kind"] in ("CustomResourceDefinition", "Namespace")]
    for batch in (first, objects):
        result = kube.kubectl(
            "apply",
            "--server-side",
            "--field-manager=kustomize-controller",
            "-f",
            "-",
            input=json.dumps({"apiVersion": "v1", "kind": "List", "items": batch}),
            check=False,
        )
        if result.returncode != 0:
            return result
        for crd in (o for o in batch if o["kind"] == "CustomResourceDefinition"):
            kube.kubectl(
                "wait",
                "--for=condition=Established",
                f"crd/{crd['metadata']['name']}",
                "--timeout=120s",
            )
    return result


def _backed_up(generated: Generated, workdir: Path) -> list[dict[str, Any]]:
    folder = workdir / "bucket" / "backups" / CLUSTER / generated.backup["backup_id"]
    archive = next(folder.glob("*.tar.gz"))
    with archive.open("rb") as stream:
        return [item.obj for item in iter_items(stream)]


def _cluster_made(kube: KubeCluster) -> dict[str, dict[str, int]]:
    """What cluster-backup leaves out of this cluster, per reason and kind: the project's own
    discovery, listing and ``exclusion_reason``, in-process (the backup's report counts these
    per resource only)."""
    config = ClusterBackupConfig()
    policy = cluster_snapshot.filter_policy(config)
    found: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    with kube_api.api_client_from(kubeconfig=str(kube.kubeconfig), context=None) as api:
        discovery = kube_api.discover(api)
        for resource in cluster_snapshot.select_resources(discovery.resources, config=config):
            for obj in kube_api.iter_objects(api, resource):
                reason = cleaning.exclusion_reason(obj, policy=policy)
                if reason is not None:
                    found[reason][str(obj.get("kind"))] += 1
    return {reason: dict(sorted(kinds.items())) for reason, kinds in sorted(found.items())}


SERVER_METADATA = {"uid", "resourceVersion", "creationTimestamp", "generation", "managedFields"}
ALLOCATED = {"clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy", "nodePort"}
CONTROLLER_WRITTEN = {"caBundle", "finalizers", "replicas"}


def _leaves(value: Any, prefix: str = "") -> Iterator[str]:
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _leaves(inner, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        for inner in value:
            yield from _leaves(inner, prefix + "[]")
    else:
        yield prefix


def _rule_of(path: str) -> str:
    """The kind of rule that drops a field at ``path`` (by the field's name)."""
    name = path.rsplit(".", 1)[-1]
    if path == "status" or path.startswith("status."):
        return "status"
    if (
        name in SERVER_METADATA
        or path == "metadata.annotations.kubectl.kubernetes.io/last-applied-configuration"
    ):
        return "server metadata"
    if name in ALLOCATED:
        return "allocated by the API server"
    if name in CONTROLLER_WRITTEN:
        return "written by a controller (managedFields)"
    return "API default nobody wrote"


def _figures(objects: list[dict[str, Any]], generated: Generated) -> dict[str, Any]:
    """Objects kept, fields dropped by rule (with the most frequent paths), objects not managed by
    any GitOps tool, for the backed-up objects of the fixture."""
    index = cleaning.BackupIndex.of(objects)
    by_rule: collections.Counter[str] = collections.Counter()
    paths: collections.Counter[str] = collections.Counter()
    unmanaged = 0
    for obj in objects:
        prepared = cleaning.prepare(obj, index=index)
        if prepared.object is None:
            continue
        if gitops_owner(ObjectRef.of(obj)) is None:
            unmanaged += 1
        kept = set(_leaves(prepared.object))
        for leaf in set(_leaves(obj)) - kept:
            if leaf.startswith("metadata.managedFields"):
                leaf = "metadata.managedFields"
            if any(k.startswith((leaf + ".", leaf + "[]")) for k in kept):
                continue
            rule = _rule_of(leaf)
            by_rule[rule] += 1
            if rule not in ("status", "server metadata"):
                paths[f"{obj['kind']} {leaf}"] += 1
    return {
        "objects_kept": generated.generation["objects"],
        "left_out_by_the_generator": generated.generation["excluded_by_reason"],
        "fields_dropped_by_rule": dict(by_rule.most_common()),
        "fields_dropped_most_often": dict(paths.most_common(40)),  # status, metadata aside
        "objects_not_managed_by_a_gitops_tool": unmanaged,
    }


@pytest.fixture(scope="module")
def installs() -> list[str]:
    missing = _installs_missing()
    if missing:
        pytest.skip(missing)
    return list(_module_dirs())


# two control planes, 700 objects (4 MB of prometheus-operator CRDs), four backups: about 5 min
# here; the deadline leaves a slow CI machine room, it measures nothing
@pytest.mark.timeout(2400)
def test_real_installs_round_trip_with_their_controllers_on_both_sides(
    tmp_path: Path, installs: list[str]
) -> None:
    cpu = os.times()
    wall = time.monotonic()
    with kube_apiserver(
        tmp_path / "a", controller_manager=True, extra_args=AGGREGATOR_ROUTING
    ) as a:
        platform = _install_steps(a)
        people = _people_steps()
        _install_platform(a, platform)
        _install_platform(a, people)
        _inject_and_scale(a, 3)
        ca_a = _own_ca(a)
        controller_calls.add_finalizer_as_flux(a, FLUX_KUSTOMIZATION)
        live = controller_calls.read(
            a, f"{controller_calls.ADMISSION}/validatingwebhookconfigurations/{INGRESS_WEBHOOK}"
        )
        assert live["webhooks"][0]["clientConfig"]["caBundle"] == ca_a
        from_a = backup_and_generate(a, tmp_path / "from-a", name=CLUSTER)
        objects = _backed_up(from_a, tmp_path / "from-a")
        cluster_made = _cluster_made(a)
        restored = _kustomize_build(from_a, tmp_path / "a-build", a)

    files_a = manifests(from_a.tree, CLUSTER)
    assert len(restored) == len(files_a)
    # every object read is either in the repository or left out with a reason, and counted
    assert from_a.backup["objects"] == len(objects)
    assert from_a.generation["objects"] + from_a.generation["excluded"] == len(objects)
    applied = _identities(platform + people)
    applied_names = {(kind, name) for kind, _ns, name in applied}
    made_by_nobody = sorted(
        (o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"])
        for o in restored
        if (o["kind"], o["metadata"]["name"]) not in applied_names
    )
    assert made_by_nobody == [], "objects in the repository that no person applied"
    in_repository = {(o["kind"], o["metadata"]["name"]) for o in restored}
    assert sorted(applied_names - in_repository) == [], "applied, and missing from the repository"
    text = b"\n".join(files_a.values()).decode()
    assert ca_a not in text  # the injected CA bundles are the controllers', not a person's
    assert "finalizers.fluxcd.io" not in text
    (podinfo_path,) = [
        p for p in files_a if "/namespaces/default/deployments" in p and p.endswith("/podinfo.yaml")
    ]
    podinfo = yaml.safe_load(files_a[podinfo_path])
    assert "replicas" not in podinfo["spec"]  # the HPA's

    with kube_apiserver(
        tmp_path / "b",
        controller_manager=True,
        service_cidr="10.97.0.0/24",
        extra_args=AGGREGATOR_ROUTING,
    ) as b:
        _install_platform(b, _install_steps(b))
        _inject_and_scale(b, 4)
        result = _apply_as_flux(b, restored)
        assert result.returncode == 0, result.stderr  # 0 conflicts, without --force-conflicts
        webhook = controller_calls.read(
            b, f"{controller_calls.ADMISSION}/validatingwebhookconfigurations/{INGRESS_WEBHOOK}"
        )
        assert webhook["webhooks"][0]["clientConfig"]["caBundle"] == _own_ca(b)
        crd = controller_calls.read(b, f"{controller_calls.CRDS}/{CONVERTED_CRD}")
        assert crd["spec"]["conversion"]["webhook"]["clientConfig"]["caBundle"] == _own_ca(b)
        scale = controller_calls.read(
            b, "/apis/apps/v1/namespaces/default/deployments/podinfo/scale"
        )
        assert scale["spec"]["replicas"] == 4
        from_b = backup_and_generate(b, tmp_path / "from-b", name=CLUSTER)
    files_b = manifests(from_b.tree, CLUSTER)
    assert sorted(files_b) == sorted(files_a)
    different = [path for path in files_a if files_a[path] != files_b[path]]
    assert different == [], different

    figures = _figures(objects, from_a)
    figures["left_out_by_cluster_backup"] = cluster_made
    used = os.times()
    figures["wall_s"] = round(time.monotonic() - wall, 1)
    figures["cpu_s_of_this_process"] = round(used.user + used.system - cpu.user - cpu.system, 1)
    print("real installs:", json.dumps(figures, indent=1, sort_keys=True))
