"""Offline checks of knative/ and triggers/: kustomize builds, schemas, webhook rules, routing.

What each check covers, and what it does not, is in b2g_deploy_checks' docstring. Nothing here
needs a cluster or the network; it needs a kustomize binary (b2g_deploy_checks.kustomize_command).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from b2g_deploy_checks import (
    CATALOG_EMITTERS,
    PING_TYPE,
    REPO,
    catalog_event,
    check_build,
    check_core,
    check_crd_schema,
    check_trigger,
    cron_errors,
    exact_types,
    key,
    kustomize_build,
    load_yaml_dir,
    name_of,
    ping_event,
    route,
)

KNATIVE = REPO / "knative"
TRIGGERS = REPO / "triggers"
OVERLAYS = sorted(p.parent for p in (KNATIVE / "overlays").glob("*/kustomization.yaml"))
BUILDS = [KNATIVE, KNATIVE / "base", *OVERLAYS]

FUNCTIONS = {
    "cluster-backup": "cluster_backup",
    "backup-complete": "backup_complete",
    "gitops-generator": "gitops_generator",
    "health-aggregator": "health_aggregator",
    "alert-router": "alert_router",
}
PUBLIC = {"backup-complete", "health-aggregator"}
IMAGE = "ghcr.io/backup2gitops/backup2gitops:0.1.0"
CLUSTER_BACKUP_IMAGE = (
    "ghcr.io/backup2gitops/backup2gitops-cluster-backup:0.1.0"  # kubernetes inside
)

# Who must receive what (the wiring the brief and DESIGN.md ask for).
EXPECTED_ROUTES: dict[str, set[str]] = {
    "io.backup2gitops.backup.requested": {"cluster-backup"},
    "io.backup2gitops.backup.completed": {"gitops-generator"},
    "io.backup2gitops.backup.failed": {"alert-router"},
    "io.backup2gitops.gitops.generated": {"health-aggregator", "alert-router"},
    "io.backup2gitops.gitops.failed": {"alert-router"},
    "io.backup2gitops.gitops.drifted": {"alert-router", "health-aggregator"},
    "io.backup2gitops.health.reported": set(),
    "io.backup2gitops.health.changed": {"alert-router"},
    "io.backup2gitops.backup.stale": {"alert-router"},
}
EXPECTED_PINGS = {
    "backup2gitops-backup-schedule": {"cluster-backup"},
    "backup2gitops-health-schedule": {"health-aggregator", "alert-router"},
}


@pytest.fixture(scope="module", params=BUILDS, ids=lambda p: str(p.relative_to(REPO)))
def build(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    return kustomize_build(request.param)


@pytest.fixture(scope="module")
def base() -> list[dict[str, Any]]:
    return kustomize_build(KNATIVE)


@pytest.fixture(scope="module")
def triggers() -> list[dict[str, Any]]:
    """The Trigger files as the local broker reads them (triggers/*.yaml, no kustomize)."""
    return [d for d in load_yaml_dir(TRIGGERS) if d["kind"] == "Trigger"]


def of_kind(objs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {name_of(o): o for o in objs if o["kind"] == kind}


def env_of(svc: dict[str, Any]) -> dict[str, Any]:
    (container,) = svc["spec"]["template"]["spec"]["containers"]
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


# --------------------------------------------------------------------------- builds


def test_every_build_passes_all_checks(build: list[dict[str, Any]]) -> None:
    assert build, "empty build"
    assert check_build(build) == []


def test_base_needs_no_optional_crds(base: list[dict[str, Any]]) -> None:
    groups = {o["apiVersion"] for o in base}
    assert not any(g.startswith("monitoring.coreos.com") for g in groups)
    assert "sources.knative.dev/v1beta1" not in groups  # KafkaSource only in overlays/kafka-source


def test_no_secret_is_applied(build: list[dict[str, Any]]) -> None:
    assert not [o for o in build if o["kind"] == "Secret"]


def test_overlays_add_what_they_promise() -> None:
    mon = kustomize_build(KNATIVE / "overlays" / "monitoring")
    assert {"PrometheusRule", "PodMonitor"} <= {o["kind"] for o in mon}
    assert env_of(of_kind(mon, "Service")["health-aggregator"]) == env_of(
        of_kind(kustomize_build(KNATIVE), "Service")["health-aggregator"]
    )
    ha = of_kind(mon, "Service")["health-aggregator"]["spec"]["template"]["metadata"]
    assert ha["annotations"]["autoscaling.knative.dev/min-scale"] == "1"

    kafka = kustomize_build(KNATIVE / "overlays" / "kafka-source")
    assert "KafkaSource" in {o["kind"] for o in kafka}
    trig = of_kind(kafka, "Trigger")["backup-complete-kafka"]
    assert trig["spec"]["subscriber"]["ref"]["name"] == "backup-complete"
    src = of_kind(kafka, "KafkaSource")["backup2gitops-bucket-events"]
    event = {
        "type": "dev.knative.kafka.event",
        "source": f"/apis/v1/namespaces/backup2gitops/kafkasources/{name_of(src)}"
        f"#{src['spec']['topics'][0]}",
    }
    assert route(of_kind(kafka, "Trigger").values(), event) == {"backup-complete"}


def test_canary_splits_gitops_generator_between_named_revisions() -> None:
    objs = kustomize_build(KNATIVE / "overlays" / "canary")
    svc = of_kind(objs, "Service")["gitops-generator"]
    base_svc = of_kind(kustomize_build(KNATIVE), "Service")["gitops-generator"]
    stable = base_svc["spec"]["template"]["metadata"]["name"]
    traffic = svc["spec"]["traffic"]
    assert sorted(t["percent"] for t in traffic) == [10, 90]
    by_tag = {t["tag"]: t for t in traffic}
    assert by_tag["canary"] == {"latestRevision": True, "percent": 10, "tag": "canary"}
    assert by_tag["stable"]["revisionName"] == stable
    assert svc["spec"]["template"]["metadata"]["name"] != stable
    # the patch must not have replaced the container (a strategic merge on a CRD would)
    (container,) = svc["spec"]["template"]["spec"]["containers"]
    assert container["image"].endswith(":0.1.1")
    assert env_of(svc) == env_of(base_svc)
    assert (
        container["readinessProbe"]
        == base_svc["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]
    )


# --------------------------------------------------------------------------- services


def test_function_services(base: list[dict[str, Any]]) -> None:
    services = of_kind(base, "Service")
    assert set(FUNCTIONS) | {"backup2gitops-dead-letter"} == set(services)
    for name, target in FUNCTIONS.items():
        svc = services[name]
        tmpl = svc["spec"]["template"]
        (container,) = tmpl["spec"]["containers"]
        env = env_of(svc)
        assert container["image"] == (CLUSTER_BACKUP_IMAGE if name == "cluster-backup" else IMAGE)
        assert env["FUNCTION_TARGET"] == target
        assert env["FUNCTION_SIGNATURE_TYPE"] == "http"
        assert env["BACKUP2GITOPS_CONFIG"] == "/etc/backup2gitops/config.yaml"
        # containerConcurrency == gunicorn threads; THREADS explicit (default: 4 x host CPUs)
        assert int(env["THREADS"]) == tmpl["spec"]["containerConcurrency"], name
        assert env["WORKERS"] == "1"
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        vols = {v["name"]: v for v in tmpl["spec"]["volumes"]}
        # configMapGenerator's name: a hash of the content, so an edit makes a new revision
        assert vols[mounts["/etc/backup2gitops"]]["configMap"]["name"] == config_map(base)[0]
        assert {mounts["/tmp"], mounts["/var/cache/backup2gitops"]} == {"tmp", "cache"}
        assert all("emptyDir" in vols[v] for v in ("tmp", "cache")), name
        assert env["BACKUP2GITOPS_CACHE_DIR"] == "/var/cache/backup2gitops"
        assert container["securityContext"]["readOnlyRootFilesystem"] is True, name
        for side in ("requests", "limits"):
            assert "ephemeral-storage" in container["resources"][side], name
        for probe in ("readinessProbe", "livenessProbe"):
            assert container[probe]["httpGet"]["path"] == "/healthz"
        assert container["resources"]["requests"] and container["resources"]["limits"]
        visibility = svc["metadata"].get("labels", {}).get("networking.knative.dev/visibility")
        assert visibility == (None if name in PUBLIC else "cluster-local"), name
        min_scale = tmpl["metadata"]["annotations"]["autoscaling.knative.dev/min-scale"]
        assert min_scale == ("1" if name == "backup-complete" else "0"), name


def test_credentials_come_from_secrets_only_where_needed(base: list[dict[str, Any]]) -> None:
    services = of_kind(base, "Service")
    secret_env = {
        name: {k for k, v in env_of(services[name]).items() if isinstance(v, dict)}
        for name in FUNCTIONS
    }
    s3 = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
    assert secret_env["cluster-backup"] == s3
    assert secret_env["backup-complete"] == s3 | {"BACKUP2GITOPS_WEBHOOK_TOKEN"}
    assert secret_env["gitops-generator"] == s3 | {"BACKUP2GITOPS_GIT_TOKEN"}
    assert secret_env["health-aggregator"] == s3 | {
        "BACKUP2GITOPS_GIT_TOKEN",
        "BACKUP2GITOPS_STATUS_TOKEN",
    }
    assert secret_env["alert-router"] == {
        "BACKUP2GITOPS_SLACK_WEBHOOK_URL",
        "BACKUP2GITOPS_PAGERDUTY_ROUTING_KEY",
    }
    readme = (KNATIVE / "README.md").read_text()
    for svc in services.values():
        for v in env_of(svc).values():
            if isinstance(v, dict):
                ref = v["secretKeyRef"]
                assert f"create secret generic {ref['name']}" in readme, ref
                assert f"--from-literal={ref['key']}=" in readme, ref
    assert "kind: Secret" not in "".join(
        p.read_text() for p in KNATIVE.rglob("*.yaml") if "minio" not in p.parts
    )


def test_config_map_is_valid_yaml_without_credentials(base: list[dict[str, Any]]) -> None:
    _, cm = config_map(base)
    config = yaml.safe_load(cm["data"]["config.yaml"])
    assert config["health"]["status_token"] == {"env": "BACKUP2GITOPS_STATUS_TOKEN"}
    assert config["storage"]["url"] == "s3://backups"
    assert config["storage"]["endpoint_url"] == "http://minio.minio.svc:9000"
    assert config["generator"]["cleaning"]["secrets"] == "exclude"
    assert config["alerts"]["receivers"][0]["type"] == "alertmanager"

    # a credential-looking key may only hold a reference ({env: NAME} / {file: PATH}), never a value
    def walk(node: Any, path: str = "") -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                sensitive = str(k) != "secrets" and any(  # "secrets" is the policy (exclude, ...)
                    w in str(k).lower() for w in ("password", "secret", "token", "key")
                )
                if sensitive and not isinstance(v, bool):
                    assert isinstance(v, dict) and set(v) <= {"env", "file"}, f"{path}.{k}"
                walk(v, f"{path}.{k}")
        elif isinstance(node, list):
            for item in node:
                walk(item, path)

    walk(config)


def config_map(base: list[dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    """The one ConfigMap, by its generated name (backup2gitops-config-<hash>)."""
    ((name, cm),) = of_kind(base, "ConfigMap").items()
    assert name.startswith("backup2gitops-config-")
    return name, cm


def test_rbac_is_minimal(base: list[dict[str, Any]]) -> None:
    sas = of_kind(base, "ServiceAccount")
    assert set(sas) == set(FUNCTIONS)  # one each
    api_readers = {"cluster-backup", "health-aggregator"}
    services = of_kind(base, "Service")
    for name, svc in services.items():
        spec = svc["spec"]["template"]["spec"]
        if name not in FUNCTIONS:  # the dead-letter sink
            assert spec["automountServiceAccountToken"] is False
            continue
        assert spec.get("serviceAccountName") == name, name
        no_token = name not in api_readers
        assert sas[name].get("automountServiceAccountToken", True) is not no_token, name
        assert spec.get("automountServiceAccountToken", True) is not no_token, name
    (cluster_role,) = of_kind(base, "ClusterRole").values()
    assert all(set(r["verbs"]) == {"get", "list"} for r in cluster_role["rules"])
    readable = {
        (g, r)
        for rule in cluster_role["rules"]
        for g in rule["apiGroups"]
        for r in rule["resources"]
    }
    assert ("", "secrets") not in readable and ("*", "*") not in readable
    assert ("apps", "deployments") in readable
    (role,) = of_kind(base, "Role").values()
    assert role["rules"] == [
        {"apiGroups": ["serving.knative.dev"], "resources": ["services"], "verbs": ["get"]}
    ]


# --------------------------------------------------------------------------- triggers


def test_trigger_files_are_exact_for_the_local_broker(triggers: list[dict[str, Any]]) -> None:
    for t in triggers:
        assert "namespace" not in t["metadata"], name_of(t)
        assert t["spec"]["broker"] == "backup2gitops"
        assert t["spec"]["filters"] and "filter" not in t["spec"]
        ref = t["spec"]["subscriber"]["ref"]
        assert ref["apiVersion"] == "serving.knative.dev/v1" and ref["kind"] == "Service"
        delivery = t["spec"]["delivery"]
        assert delivery["backoffPolicy"] == "exponential"
        assert delivery["deadLetterSink"]["ref"]["name"] == "backup2gitops-dead-letter"
    listed = yaml.safe_load((TRIGGERS / "kustomization.yaml").read_text())["resources"]
    assert sorted(listed) == sorted(
        p.name for p in TRIGGERS.glob("*.yaml") if p.stem != "kustomization"
    )


def test_broker_has_the_same_dead_letter_sink(base: list[dict[str, Any]]) -> None:
    broker = of_kind(base, "Broker")["backup2gitops"]
    assert (
        broker["spec"]["delivery"]["deadLetterSink"]["ref"]["name"] == "backup2gitops-dead-letter"
    )


def test_broker_answers_producers_before_the_deliveries(base: list[dict[str, Any]]) -> None:
    """Measured on Knative v0.50 (tests/e2e/knative): with the default synchronous
    InMemoryChannel a producer's POST waits for every Trigger's retries and dead letter, longer
    than the functions' K_SINK timeout (runtime/sink.py), so a reply could be published twice.
    The asynchronous handler answers once the channel has the event (knative/README.md, 4)."""
    broker = of_kind(base, "Broker")["backup2gitops"]
    assert broker["metadata"]["annotations"]["messaging.knative.dev/async-handler"] == "true"


@pytest.mark.parametrize("event_type", sorted(EXPECTED_ROUTES))
def test_routing_of_every_catalog_type(triggers: list[dict[str, Any]], event_type: str) -> None:
    for emitter in sorted(CATALOG_EMITTERS[event_type]):
        assert route(triggers, catalog_event(event_type, emitter)) == EXPECTED_ROUTES[event_type]


@pytest.mark.parametrize("pingsource", sorted(EXPECTED_PINGS))
def test_routing_of_schedules(triggers: list[dict[str, Any]], pingsource: str) -> None:
    assert route(triggers, ping_event(pingsource)) == EXPECTED_PINGS[pingsource]
    assert (
        route(triggers, ping_event(pingsource, namespace="elsewhere")) == EXPECTED_PINGS[pingsource]
    )


def test_unrelated_events_reach_nobody(triggers: list[dict[str, Any]]) -> None:
    assert route(triggers, ping_event("someone-elses-schedule")) == set()
    assert route(triggers, catalog_event("io.backup2gitops.backup.completedX", "x")) == set()
    assert route(triggers, {"type": "com.example.other", "source": "/x"}) == set()


def test_nothing_subscribes_to_a_type_nobody_emits(triggers: list[dict[str, Any]]) -> None:
    pingsources = {name_of(p) for p in load_yaml_dir(TRIGGERS) if p["kind"] == "PingSource"}
    for t in triggers:
        types = {ty for f in t["spec"]["filters"] for ty in exact_types(f)}
        assert types, f"{name_of(t)}: no exact type filter"
        for ty in types:
            assert ty in CATALOG_EMITTERS or ty == PING_TYPE, f"{name_of(t)}: {ty}"
            if ty == PING_TYPE:
                suffixes = [f["suffix"]["source"] for f in t["spec"]["filters"] if "suffix" in f]
                assert any(s.endswith(f"/pingsources/{p}") for s in suffixes for p in pingsources)


def test_pingsources(base: list[dict[str, Any]]) -> None:
    pings = of_kind(base, "PingSource")
    assert pings["backup2gitops-backup-schedule"]["spec"]["schedule"] == "0 2 * * *"
    assert pings["backup2gitops-health-schedule"]["spec"]["schedule"] == "*/5 * * * *"


# --------------------------------------------------------------------------- negative tests


@pytest.fixture()
def good_trigger(triggers: list[dict[str, Any]]) -> dict[str, Any]:
    t = copy.deepcopy(next(t for t in triggers if name_of(t) == "cluster-backup-schedule"))
    t["metadata"]["namespace"] = "backup2gitops"
    return t


def trigger_errors(t: dict[str, Any]) -> list[str]:
    return [*check_trigger(t, set(FUNCTIONS) | {"backup2gitops-dead-letter"}, {"backup2gitops"})]


def test_checker_accepts_the_real_trigger(good_trigger: dict[str, Any]) -> None:
    assert trigger_errors(good_trigger) == []
    assert check_crd_schema(good_trigger) == []


def test_checker_catches_a_misspelt_dialect(good_trigger: dict[str, Any]) -> None:
    good_trigger["spec"]["filters"][0] = {"exactt": {"type": "dev.knative.sources.ping"}}
    assert any("unknown filter dialect 'exactt'" in e for e in trigger_errors(good_trigger))


def test_checker_catches_two_dialects_in_one_item(good_trigger: dict[str, Any]) -> None:
    good_trigger["spec"]["filters"][0]["prefix"] = {"type": "dev."}
    assert any("exactly one dialect" in e for e in trigger_errors(good_trigger))


def test_checker_catches_a_bad_attribute_name(good_trigger: dict[str, Any]) -> None:
    good_trigger["spec"]["filters"][0] = {"exact": {"Type": "dev.knative.sources.ping"}}
    assert any("does not match ^[a-z][a-z0-9]*$" in e for e in trigger_errors(good_trigger))


def test_checker_catches_a_bad_backoff_policy(good_trigger: dict[str, Any]) -> None:
    good_trigger["spec"]["delivery"]["backoffPolicy"] = "expo"
    assert any("'expo' is not one of" in e for e in trigger_errors(good_trigger))


def test_checker_catches_a_bad_backoff_delay(good_trigger: dict[str, Any]) -> None:
    good_trigger["spec"]["delivery"]["backoffDelay"] = "2s"
    assert any("not an ISO-8601 duration" in e for e in trigger_errors(good_trigger))


def test_checker_catches_a_missing_subscriber(good_trigger: dict[str, Any]) -> None:
    good_trigger["spec"]["subscriber"]["ref"]["name"] = "cluster-backupp"
    assert any("'cluster-backupp' is not defined" in e for e in trigger_errors(good_trigger))


def test_checker_catches_a_missing_dead_letter_sink(good_trigger: dict[str, Any]) -> None:
    good_trigger["spec"]["delivery"]["deadLetterSink"]["ref"]["name"] = "nowhere"
    assert any("'nowhere' is not defined" in e for e in trigger_errors(good_trigger))


def test_checker_catches_a_wrong_type_in_the_crd_schema(good_trigger: dict[str, Any]) -> None:
    good_trigger["spec"]["delivery"]["retry"] = "three"
    assert any("'three' is not of type 'integer'" in e for e in check_crd_schema(good_trigger))


def test_pruning_check_catches_a_misspelt_container_field(base: list[dict[str, Any]]) -> None:
    svc = copy.deepcopy(of_kind(base, "Service")["alert-router"])
    svc["spec"]["template"]["spec"]["containers"][0]["envv"] = []
    errors = check_crd_schema(svc)
    assert any("containers[0].envv is not in the CRD schema" in e for e in errors)
    assert any("envv" in e for e in check_build([svc], namespace=None))


def test_core_model_check_catches_typos_and_types(base: list[dict[str, Any]]) -> None:
    role = copy.deepcopy(of_kind(base, "Role")["backup2gitops-health-aggregator"])
    assert check_core(role) == []
    role["rules"][0]["verb"] = role["rules"][0].pop("verbs")
    assert any("verb" in e for e in check_core(role))
    cm = copy.deepcopy(config_map(base)[1])
    cm["data"] = {"config.yaml": 42}
    assert check_core(cm)


def test_traffic_rules(base: list[dict[str, Any]]) -> None:
    svc = copy.deepcopy(of_kind(base, "Service")["gitops-generator"])
    svc["spec"]["traffic"] = [
        {"revisionName": "gitops-generator-0-1-0", "latestRevision": True, "percent": 80},
        {"latestRevision": True, "percent": 10, "tag": "canary"},
    ]
    errors = check_build([svc], namespace=None)
    assert any("sum to 90" in e for e in errors)
    assert any("latestRevision must be false" in e for e in errors)


@pytest.mark.parametrize(
    ("expr", "ok"),
    [
        ("0 2 * * *", True),
        ("*/5 * * * *", True),
        ("0 2 * * mon-fri", True),
        ("@daily", True),
        ("0 2 * *", False),
        ("0 2 * * * *", False),
        ("61 * * * *", False),
        ("0 24 * * *", False),
        ("*/0 * * * *", False),
        ("CRON_TZ=UTC 0 2 * * *", False),
    ],
)
def test_cron(expr: str, ok: bool) -> None:
    assert (cron_errors(expr) == []) is ok, cron_errors(expr)


# --------------------------------------------------------------------------- minio examples


@pytest.mark.parametrize("path", sorted((KNATIVE / "minio").glob("*.yaml")), ids=lambda p: p.name)
def test_minio_examples(path: Path) -> None:
    (obj,) = [d for d in yaml.safe_load_all(path.read_text()) if d]
    partial = obj["kind"] == "StatefulSet"  # a strategic-merge patch, not a whole object
    assert check_core(obj, partial=partial) == []
    text = path.read_text()
    assert "arn:minio:sqs::backup2gitops:webhook" in text or "QUEUE_DIR" in text
    if obj["kind"] == "StatefulSet":
        env = {e["name"] for e in obj["spec"]["template"]["spec"]["containers"][0]["env"]}
        for part in ("ENABLE", "ENDPOINT", "AUTH_TOKEN", "QUEUE_DIR"):
            assert f"MINIO_NOTIFY_WEBHOOK_{part}_backup2gitops" in env


def test_minio_readme_has_the_three_subscriptions() -> None:
    readme = (KNATIVE / "minio" / "README.md").read_text()
    arn = "arn:minio:sqs::backup2gitops:webhook --event put --suffix"
    for suffix in ("manifest.json", "velero-backup.json", ".tar.gz"):
        assert f"{arn} {suffix}" in readme


def test_every_object_kind_is_checked(base: list[dict[str, Any]]) -> None:
    kinds = {key(o) for o in base}
    assert ("serving.knative.dev/v1", "Service") in kinds
    assert ("eventing.knative.dev/v1", "Trigger") in kinds
