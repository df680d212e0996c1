"""Offline checks of the Knative manifests (knative/, triggers/) -- the helpers behind tests/deploy.

What is checked, and how (honestly):

* ``kustomize build`` output only: every check runs on what ``kubectl apply -k`` would send.
* Knative kinds (Service, Broker, Trigger, PingSource) against the ``openAPIV3Schema`` of the
  Knative CRDs, vendored in ``schemas/`` (see ``schemas/PROVENANCE.md``; the Serving one is an
  excerpt), with ``jsonschema``. On top of plain JSON-Schema validation, a *pruning* check reports
  every field the API server would silently drop (not declared, no
  ``x-kubernetes-preserve-unknown-fields`` on the way) -- JSON Schema alone accepts unknown fields.
* Knative's own admission code (Serving's and Eventing's ``SetDefaults`` + ``Validate``) runs in
  test_knative_admission.py, through the Go program knative-validate/. Kept here as well, as
  readable rules that need no Go build, what the webhook checks and the CRDs do not: one dialect per ``filters`` item,
  one attribute per ``exact``/``prefix``/``suffix``, attribute names ``^[a-z][a-z0-9]*$``, non-empty
  values, ``backoffPolicy`` in {linear, exponential}, ISO-8601 ``backoffDelay``/``timeout``, a
  5-field cron ``schedule`` (ranges checked), an IANA ``timezone``, traffic rules (percent sum 100,
  ``revisionName`` xor ``latestRevision``, unique tags, names prefixed by the Service), autoscaling
  annotations, ``containerConcurrency`` in 0..1000.
* Core Kubernetes kinds (and the PodSpec part of Knative Services, which the CRD leaves open) with
  the ``kubernetes`` Python client's model classes: every field name must be an attribute of the
  model (typos are caught), the basic type of each value (str/int/bool/list/dict/nested model) must
  match, and the model's required fields must be present. NOT checked: value formats (quantities,
  DNS names, enum values such as ``imagePullPolicy``), cross-field rules, defaulting -- the API
  server's full validation is not reproduced.
* Cross-object references: Trigger subscribers, dead-letter sinks, PingSource sinks, volumes,
  ServiceAccounts and RoleBinding subjects must name objects of this build.
"""

from __future__ import annotations

import copy
import datetime as _dt
import json
import re
import shutil
import subprocess
import zoneinfo
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes.client as k8s
import pydantic
import yaml

from backup2gitops.core.triggers import parse_trigger
from backup2gitops.core.triggers import routes as trigger_routes

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
SCHEMAS = HERE / "schemas"

FILTER_DIALECTS = frozenset({"exact", "prefix", "suffix", "all", "any", "not", "cesql"})
ATTRIBUTE_NAME = re.compile(r"^[a-z][a-z0-9]*$")
BACKOFF_POLICIES = frozenset({"linear", "exponential"})
ISO8601_DURATION = re.compile(
    r"^P(?!$)(\d+(?:\.\d+)?Y)?(\d+(?:\.\d+)?M)?(\d+(?:\.\d+)?W)?(\d+(?:\.\d+)?D)?"
    r"(T(?=\d)(\d+(?:\.\d+)?H)?(\d+(?:\.\d+)?M)?(\d+(?:\.\d+)?S)?)?$"
)

KNATIVE_SCHEMAS = {
    ("serving.knative.dev/v1", "Service"): "knative-serving-service-v1.yaml",
    ("eventing.knative.dev/v1", "Trigger"): "knative-eventing-trigger-v1.yaml",
    ("eventing.knative.dev/v1", "Broker"): "knative-eventing-broker-v1.yaml",
    ("sources.knative.dev/v1", "PingSource"): "knative-eventing-pingsource-v1.yaml",
    ("sources.knative.dev/v1", "SinkBinding"): "knative-eventing-sinkbinding-v1.yaml",
}

# Core kinds -> kubernetes client model class name.
CORE_MODELS = {
    ("v1", "Namespace"): "V1Namespace",
    ("v1", "ConfigMap"): "V1ConfigMap",
    ("v1", "ServiceAccount"): "V1ServiceAccount",
    ("v1", "Secret"): "V1Secret",
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): "V1ClusterRole",
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): "V1ClusterRoleBinding",
    ("rbac.authorization.k8s.io/v1", "Role"): "V1Role",
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): "V1RoleBinding",
    ("apps/v1", "StatefulSet"): "V1StatefulSet",
    ("apps/v1", "Deployment"): "V1Deployment",
    ("batch/v1", "Job"): "V1Job",
    ("networking.k8s.io/v1", "NetworkPolicy"): "V1NetworkPolicy",
}

KNATIVE_POD_FIELDS = frozenset(
    {"containerConcurrency", "timeoutSeconds", "idleTimeoutSeconds", "responseStartTimeoutSeconds"}
)

CLUSTER_SCOPED = frozenset({"Namespace", "ClusterRole", "ClusterRoleBinding"})

# Kinds that need extra CRDs; an overlay may add them, the base must not.
OPTIONAL_CRD_GROUPS = ("monitoring.coreos.com/", "sources.knative.dev/v1beta1")


# --------------------------------------------------------------------------- kustomize


def kustomize_command() -> list[str]:
    """kustomize to run: $KUSTOMIZE, ~/go/bin/kustomize, kustomize on PATH, kubectl kustomize."""
    import os

    env = os.environ.get("KUSTOMIZE")
    if env:
        return [env]
    for candidate in (Path.home() / "go" / "bin" / "kustomize", Path("/root/go/bin/kustomize")):
        if candidate.is_file():
            return [str(candidate)]
    found = shutil.which("kustomize")
    if found:
        return [found]
    kubectl = shutil.which("kubectl")
    if kubectl:
        return [kubectl, "kustomize"]
    raise RuntimeError(
        "no kustomize: `go install sigs.k8s.io/kustomize/kustomize/v5@v5.8.2` "
        "(v5.8.3 needs Go >= 1.27) or set $KUSTOMIZE"
    )


def kustomize_build(path: Path) -> list[dict[str, Any]]:
    proc = subprocess.run(
        [*kustomize_command(), "build", str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if proc.returncode != 0:
        raise AssertionError(f"kustomize build {path} failed:\n{proc.stderr}")
    return [d for d in yaml.safe_load_all(proc.stdout) if d]


def load_yaml_dir(path: Path) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for f in sorted(path.glob("*.yaml")):
        if f.name == "kustomization.yaml":
            continue
        docs.extend(d for d in yaml.safe_load_all(f.read_text()) if d)
    return docs


def key(obj: dict[str, Any]) -> tuple[str, str]:
    return obj.get("apiVersion", ""), obj.get("kind", "")


def name_of(obj: dict[str, Any]) -> str:
    return str(obj.get("metadata", {}).get("name", ""))


def where(obj: dict[str, Any]) -> str:
    return f"{obj.get('kind')}/{name_of(obj)}"


# --------------------------------------------------------------------------- CRD schemas


def load_schema(filename: str) -> dict[str, Any]:
    return yaml.safe_load((SCHEMAS / filename).read_text())


def _strip_k8s_extensions(schema: Any) -> Any:
    """JSON Schema view of an OpenAPI v3 CRD schema (int-or-string is already an anyOf)."""
    if isinstance(schema, dict):
        return {k: _strip_k8s_extensions(v) for k, v in schema.items() if not k.startswith("x-")}
    if isinstance(schema, list):
        return [_strip_k8s_extensions(v) for v in schema]
    return schema


def pruned_fields(value: Any, schema: dict[str, Any], path: str = "") -> Iterator[str]:
    """Paths the API server would prune: fields a structural schema does not declare."""
    if schema.get("x-kubernetes-preserve-unknown-fields") and "properties" not in schema:
        return
    if isinstance(value, dict) and schema.get("type") == "object":
        props = schema.get("properties")
        addl = schema.get("additionalProperties")
        preserve = schema.get("x-kubernetes-preserve-unknown-fields", False)
        for k, v in value.items():
            sub = f"{path}.{k}"
            if props is not None and k in props:
                yield from pruned_fields(v, props[k], sub)
            elif isinstance(addl, dict):
                yield from pruned_fields(v, addl, sub)
            elif props is not None and not preserve and addl is not True:
                yield sub
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, v in enumerate(value):
            yield from pruned_fields(v, schema["items"], f"{path}[{i}]")


def check_crd_schema(obj: dict[str, Any]) -> list[str]:
    filename = KNATIVE_SCHEMAS.get(key(obj))
    if filename is None:
        return []
    schema = load_schema(filename)
    errors = [
        f"{where(obj)}: schema: {'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in jsonschema.Draft7Validator(_strip_k8s_extensions(schema)).iter_errors(
            {k: v for k, v in obj.items() if k != "metadata"}
        )
    ]
    body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata")}
    errors += [
        f"{where(obj)}: field {p} is not in the CRD schema: the API server would drop it"
        for p in pruned_fields(body, schema)
    ]
    return errors


# --------------------------------------------------------------------------- core models

_LIST = re.compile(r"^[Ll]ist\[(.+)\]$")
_DICT = re.compile(r"^(?:dict\(str, (.+)\)|Dict\[str, (.+)\])$")
_PRIMITIVES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "bool": (bool,),
    "float": (int, float),
    "datetime": (str, _dt.datetime),
    "date": (str, _dt.date),
    "bytes": (str, bytes),
    "object": (object,),
}


def _required_fields(model: type) -> set[str]:
    """Required attributes of a client model (kubernetes >= 35: pydantic models)."""
    fields = getattr(model, "model_fields", None)
    if fields is not None:
        return {name for name, f in fields.items() if f.is_required()}
    return set()


def check_model(value: Any, type_name: str, path: str, partial: bool = False) -> Iterator[str]:
    """Field names, basic types and required fields against a kubernetes client model."""
    if m := _LIST.match(type_name):
        if not isinstance(value, list):
            yield f"{path}: expected a list, got {type(value).__name__}"
            return
        for i, item in enumerate(value):
            yield from check_model(item, m.group(1), f"{path}[{i}]", partial)
        return
    if m := _DICT.match(type_name):
        if not isinstance(value, dict):
            yield f"{path}: expected a map, got {type(value).__name__}"
            return
        for k, item in value.items():
            yield from check_model(item, m.group(1) or m.group(2), f"{path}.{k}", partial)
        return
    if type_name in _PRIMITIVES:
        ok = isinstance(value, _PRIMITIVES[type_name])
        if type_name == "int" and isinstance(value, bool):
            ok = False
        if not ok:
            yield f"{path}: expected {type_name}, got {type(value).__name__} ({value!r})"
        return
    model = getattr(k8s, type_name, None)
    if model is None:  # e.g. IntOrString / Quantity are plain "object"/"str" in this client
        return
    if not isinstance(value, dict):
        yield f"{path}: expected an object ({type_name}), got {type(value).__name__}"
        return
    by_json = {json_name: attr for attr, json_name in model.attribute_map.items()}
    for k, v in value.items():
        if k not in by_json:
            yield f"{path}.{k}: unknown field of {type_name}"
            continue
        yield from check_model(v, model.openapi_types[by_json[k]], f"{path}.{k}", partial)
    if not partial:
        for attr in sorted(_required_fields(model)):
            if model.attribute_map[attr] not in value:
                yield f"{path}: {type_name} requires {model.attribute_map[attr]}"


def _quantities_as_strings(value: Any) -> Any:
    """resources.limits/requests accept int-or-string; the client models type them as str."""
    if isinstance(value, dict):
        out = {k: _quantities_as_strings(v) for k, v in value.items()}
        for field in ("limits", "requests"):
            if isinstance(out.get(field), dict):
                out[field] = {
                    k: str(v) if isinstance(v, int | float) and not isinstance(v, bool) else v
                    for k, v in out[field].items()
                }
        return out
    if isinstance(value, list):
        return [_quantities_as_strings(v) for v in value]
    return value


def validate_model(value: dict[str, Any], model_name: str, path: str) -> list[str]:
    """Full validation with the client's pydantic model: unknown fields (extra=forbid), strict
    types, required fields. Falls back to the field walker for older, non-pydantic clients."""
    model = getattr(k8s, model_name)
    if not hasattr(model, "model_validate"):
        return list(check_model(value, model_name, path))
    try:
        model.model_validate(_quantities_as_strings(value))
    except pydantic.ValidationError as e:
        return [
            f"{path}: {'.'.join(str(x) for x in err['loc'])}: {err['msg']}" for err in e.errors()
        ]
    return []


def check_core(obj: dict[str, Any], partial: bool = False) -> list[str]:
    """Core kinds; partial=True for patches (names and types only, no required fields)."""
    model = CORE_MODELS.get(key(obj))
    if model is None:
        return []
    if partial:
        return list(check_model(obj, model, where(obj), partial=True))
    return validate_model(obj, model, where(obj))


# --------------------------------------------------------------------------- webhook rules


def check_filter(item: Any, path: str) -> Iterator[str]:
    if not isinstance(item, dict) or len(item) != 1:
        yield f"{path}: a filter must have exactly one dialect, has {sorted(item or {})}"
        return
    ((dialect, body),) = item.items()
    if dialect not in FILTER_DIALECTS:
        yield f"{path}: unknown filter dialect {dialect!r} (one of {sorted(FILTER_DIALECTS)})"
        return
    if dialect in ("exact", "prefix", "suffix"):
        if not isinstance(body, dict) or len(body) != 1:
            yield f"{path}.{dialect}: must hold exactly one attribute"
            return
        for attr, val in body.items():
            if not ATTRIBUTE_NAME.match(str(attr)):
                yield f"{path}.{dialect}: attribute name {attr!r} does not match ^[a-z][a-z0-9]*$"
            if not isinstance(val, str) or not val:
                yield f"{path}.{dialect}.{attr}: value must be a non-empty string"
    elif dialect in ("all", "any"):
        if not isinstance(body, list) or not body:
            yield f"{path}.{dialect}: must be a non-empty list of filters"
            return
        for i, sub in enumerate(body):
            yield from check_filter(sub, f"{path}.{dialect}[{i}]")
    elif dialect == "not":
        yield from check_filter(body, f"{path}.not")
    elif dialect == "cesql" and (not isinstance(body, str) or not body.strip()):
        yield f"{path}.cesql: must be a non-empty expression"


def check_delivery(delivery: Any, path: str) -> Iterator[str]:
    if delivery is None:
        return
    if not isinstance(delivery, dict):
        yield f"{path}: must be an object"
        return
    policy = delivery.get("backoffPolicy")
    if policy is not None and policy not in BACKOFF_POLICIES:
        yield f"{path}.backoffPolicy: {policy!r} is not one of {sorted(BACKOFF_POLICIES)}"
    for field in ("backoffDelay", "timeout"):
        val = delivery.get(field)
        if val is not None and not (isinstance(val, str) and ISO8601_DURATION.match(val)):
            yield f"{path}.{field}: {val!r} is not an ISO-8601 duration (e.g. PT0.5S)"
    retry = delivery.get("retry")
    if retry is not None and (not isinstance(retry, int) or isinstance(retry, bool) or retry < 0):
        yield f"{path}.retry: must be an integer >= 0"
    dls = delivery.get("deadLetterSink")
    if dls is not None and not (isinstance(dls, dict) and (dls.get("ref") or dls.get("uri"))):
        yield f"{path}.deadLetterSink: needs ref or uri"


_CRON_RANGES = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_CRON_NAMES = [
    {},
    {},
    {},
    {m: i for i, m in enumerate(_MONTHS, 1)},
    {d: i for i, d in enumerate(_DAYS)},
]
_CRON_MACROS = {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}


def cron_errors(expr: Any) -> list[str]:
    """5-field cron (robfig/cron standard parser, what PingSource uses), ranges checked."""
    if not isinstance(expr, str):
        return ["schedule must be a string"]
    expr = expr.strip()
    if expr.startswith("CRON_TZ=") or expr.startswith("TZ="):
        return ["put the time zone in spec.timezone, not in the schedule"]
    if expr in _CRON_MACROS or expr.startswith("@every "):
        return []
    fields = expr.split()
    if len(fields) != 5:
        return [f"cron {expr!r} has {len(fields)} fields, expected 5"]
    errors = []
    for field, (lo, hi), names in zip(fields, _CRON_RANGES, _CRON_NAMES, strict=True):
        for part in field.split(","):
            rng, _, step = part.partition("/")
            if step and not (step.isdigit() and int(step) > 0):
                errors.append(f"bad step {step!r} in {field!r}")
            if rng in ("*", "?"):
                continue
            bounds = rng.split("-")
            if len(bounds) > 2:
                errors.append(f"bad range {rng!r}")
                continue
            for b in bounds:
                v = names.get(b.lower()) if not b.isdigit() else int(b)
                if v is None or not lo <= v <= hi:
                    errors.append(f"{b!r} out of range {lo}-{hi} in {field!r}")
    return [f"cron {expr!r}: {e}" for e in errors]


def check_trigger(obj: dict[str, Any], services: set[str], brokers: set[str]) -> Iterator[str]:
    w = where(obj)
    spec = obj.get("spec", {})
    if spec.get("broker") not in brokers:
        yield f"{w}: broker {spec.get('broker')!r} is not defined (have {sorted(brokers)})"
    if "filter" in spec:
        yield f"{w}: use spec.filters (new dialects), not the legacy spec.filter"
    filters = spec.get("filters")
    if not isinstance(filters, list) or not filters:
        yield f"{w}: spec.filters must be a non-empty list (an empty one matches every event)"
    else:
        for i, item in enumerate(filters):
            yield from check_filter(item, f"{w}: spec.filters[{i}]")
    yield from check_destination(spec.get("subscriber"), f"{w}: spec.subscriber", services)
    delivery = spec.get("delivery")
    yield from check_delivery(delivery, f"{w}: spec.delivery")
    if isinstance(delivery, dict) and delivery.get("deadLetterSink"):
        yield from check_destination(
            delivery["deadLetterSink"], f"{w}: spec.delivery.deadLetterSink", services
        )


def check_destination(dest: Any, path: str, services: set[str]) -> Iterator[str]:
    if not isinstance(dest, dict) or not (dest.get("ref") or dest.get("uri")):
        yield f"{path}: needs ref or uri"
        return
    ref = dest.get("ref")
    if ref:
        if (ref.get("apiVersion"), ref.get("kind")) != ("serving.knative.dev/v1", "Service"):
            yield f"{path}.ref: expected a serving.knative.dev/v1 Service, got {ref}"
        elif ref.get("name") not in services:
            yield f"{path}.ref: Service {ref.get('name')!r} is not defined in knative/"


def check_pingsource(obj: dict[str, Any], brokers: set[str]) -> Iterator[str]:
    w = where(obj)
    spec = obj.get("spec", {})
    for e in cron_errors(spec.get("schedule")):
        yield f"{w}: {e}"
    tz = spec.get("timezone")
    if tz is not None:
        try:
            zoneinfo.ZoneInfo(tz)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            yield f"{w}: timezone {tz!r} is not an IANA time zone"
    if "data" in spec and "dataBase64" in spec:
        yield f"{w}: data and dataBase64 are mutually exclusive"
    if spec.get("contentType") == "application/json" and "data" in spec:
        try:
            json.loads(spec["data"])
        except (TypeError, ValueError):
            yield f"{w}: data is not JSON but contentType is application/json"
    ref = (spec.get("sink") or {}).get("ref") or {}
    if (ref.get("apiVersion"), ref.get("kind")) != ("eventing.knative.dev/v1", "Broker") or ref.get(
        "name"
    ) not in brokers:
        yield f"{w}: sink must be the Broker of this build, got {ref}"


def _int_annotation(annotations: dict[str, str], name: str) -> int | None:
    val = annotations.get(name)
    if val is None:
        return None
    if not isinstance(val, str) or not val.isdigit():
        raise ValueError(f"{name}={val!r} is not a non-negative integer string")
    return int(val)


def check_service(obj: dict[str, Any]) -> Iterator[str]:
    w = where(obj)
    name = name_of(obj)
    spec = obj.get("spec", {})
    template = spec.get("template", {})
    tmeta = template.get("metadata", {})
    tspec = template.get("spec", {})
    # The PodSpec part, which the CRD leaves open: field names and types via the client's models.
    # Knative-only fields are taken out, and probes get the port Knative fills in.
    pod = copy.deepcopy({k: v for k, v in tspec.items() if k not in KNATIVE_POD_FIELDS})
    for c in pod.get("containers", []):
        for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
            hg = (c.get(probe) or {}).get("httpGet")
            if isinstance(hg, dict):
                hg.setdefault("port", 8080)
    yield from (f"{w}: {e}" for e in validate_model(pod, "V1PodSpec", "spec.template.spec"))
    rev = tmeta.get("name")
    if rev is not None and not str(rev).startswith(f"{name}-"):
        yield f"{w}: revision name {rev!r} must start with {name + '-'!r}"
    cc = tspec.get("containerConcurrency")
    if cc is not None and not (isinstance(cc, int) and 0 <= cc <= 1000):
        yield f"{w}: containerConcurrency {cc!r} not in 0..1000"
    try:
        ann = tmeta.get("annotations", {}) or {}
        lo = _int_annotation(ann, "autoscaling.knative.dev/min-scale")
        hi = _int_annotation(ann, "autoscaling.knative.dev/max-scale")
        if lo is not None and hi is not None and hi and lo > hi:
            yield f"{w}: min-scale {lo} > max-scale {hi}"
    except ValueError as e:
        yield f"{w}: {e}"
    if len(tspec.get("containers", [])) != 1:
        yield f"{w}: exactly one container expected"
    for c in tspec.get("containers", []):
        for probe in ("readinessProbe", "livenessProbe"):
            hg = (c.get(probe) or {}).get("httpGet") or {}
            if "port" in hg:
                yield f"{w}: {probe}.httpGet.port: leave it out, Knative sets the user port"
    traffic = spec.get("traffic")
    if traffic:
        total = sum(t.get("percent", 0) for t in traffic)
        if total != 100:
            yield f"{w}: traffic percents sum to {total}, not 100"
        tags = [t["tag"] for t in traffic if "tag" in t]
        if len(tags) != len(set(tags)):
            yield f"{w}: duplicate traffic tags {tags}"
        for t in traffic:
            has_rev = bool(t.get("revisionName"))
            if has_rev and t.get("latestRevision"):
                yield f"{w}: traffic {t}: latestRevision must be false with revisionName"
            if not has_rev and t.get("latestRevision") is not True:
                yield f"{w}: traffic {t}: needs revisionName or latestRevision: true"
            if has_rev and not t["revisionName"].startswith(f"{name}-"):
                yield f"{w}: traffic revision {t['revisionName']!r} is not a revision of {name}"
            if "url" in t:
                yield f"{w}: traffic url is status-only"


def check_references(objs: list[dict[str, Any]]) -> Iterator[str]:
    by_kind: dict[str, set[str]] = {}
    for o in objs:
        by_kind.setdefault(o["kind"], set()).add(name_of(o))
    for o in objs:
        if o["kind"] != "Service" or not o["apiVersion"].startswith("serving.knative.dev"):
            continue
        tspec = o["spec"]["template"]["spec"]
        sa = tspec.get("serviceAccountName")
        if sa and sa not in by_kind.get("ServiceAccount", set()):
            yield f"{where(o)}: ServiceAccount {sa!r} not defined"
        for v in tspec.get("volumes", []):
            cm = (v.get("configMap") or {}).get("name")
            if cm and cm not in by_kind.get("ConfigMap", set()):
                yield f"{where(o)}: ConfigMap {cm!r} not defined"
        mounts = {m["name"] for c in tspec["containers"] for m in c.get("volumeMounts", [])}
        vols = {v["name"] for v in tspec.get("volumes", [])}
        if mounts - vols:
            yield f"{where(o)}: volumeMounts without a volume: {sorted(mounts - vols)}"
    for o in objs:
        if o["kind"] in ("RoleBinding", "ClusterRoleBinding"):
            for s in o.get("subjects", []):
                if s["kind"] == "ServiceAccount" and s["name"] not in by_kind.get(
                    "ServiceAccount", set()
                ):
                    yield f"{where(o)}: subject ServiceAccount {s['name']!r} not defined"
            role = o["roleRef"]
            if role["name"] not in by_kind.get(role["kind"], set()):
                yield f"{where(o)}: roleRef {role['kind']}/{role['name']} not defined"


def check_build(objs: list[dict[str, Any]], namespace: str | None = "backup2gitops") -> list[str]:
    """Every check above, on one kustomize build; returns the problems (empty = fine)."""
    errors: list[str] = []
    services = {name_of(o) for o in objs if key(o) == ("serving.knative.dev/v1", "Service")}
    brokers = {name_of(o) for o in objs if key(o) == ("eventing.knative.dev/v1", "Broker")}
    seen: set[tuple[str, str, str]] = set()
    for o in objs:
        ident = (o.get("apiVersion", ""), o.get("kind", ""), name_of(o))
        if ident in seen:
            errors.append(f"{where(o)}: defined twice")
        seen.add(ident)
        if not name_of(o):
            errors.append(f"{o.get('kind')}: no metadata.name")
        if namespace is not None:
            ns = o.get("metadata", {}).get("namespace")
            if o["kind"] in CLUSTER_SCOPED:
                if ns:
                    errors.append(f"{where(o)}: cluster-scoped but has namespace {ns!r}")
            elif ns != namespace:
                errors.append(f"{where(o)}: namespace {ns!r}, expected {namespace!r}")
        errors += check_crd_schema(o)
        errors += check_core(o)
        if key(o) == ("eventing.knative.dev/v1", "Trigger"):
            errors += check_trigger(o, services, brokers)
        elif key(o) == ("sources.knative.dev/v1", "PingSource"):
            errors += check_pingsource(o, brokers)
        elif key(o) == ("serving.knative.dev/v1", "Service"):
            errors += check_service(o)
        elif key(o) == ("eventing.knative.dev/v1", "Broker"):
            errors += check_delivery(o.get("spec", {}).get("delivery"), f"{where(o)}: delivery")
            dls = o.get("spec", {}).get("delivery", {}).get("deadLetterSink")
            if dls:
                errors += check_destination(dls, f"{where(o)}: deadLetterSink", services)
        elif (
            key(o) not in CORE_MODELS
            and key(o) not in KNATIVE_SCHEMAS
            and not o.get("apiVersion", "").startswith(OPTIONAL_CRD_GROUPS)
        ):
            errors.append(f"{where(o)}: kind {key(o)} is not checked by anything")
    errors += check_references(objs)
    return errors


# --------------------------------------------------------------------------- routing

# The event catalog (DESIGN.md) and who emits each type; "external" = anyone outside.
CATALOG_EMITTERS: dict[str, set[str]] = {
    "io.backup2gitops.backup.requested": {"external"},
    "io.backup2gitops.backup.completed": {"backup-complete"},
    "io.backup2gitops.backup.failed": {"backup-complete", "cluster-backup"},
    "io.backup2gitops.gitops.generated": {"gitops-generator"},
    "io.backup2gitops.gitops.failed": {"gitops-generator"},
    "io.backup2gitops.gitops.drifted": {"gitops-generator"},
    "io.backup2gitops.health.reported": {"health-aggregator"},
    "io.backup2gitops.health.changed": {"health-aggregator"},
    "io.backup2gitops.backup.stale": {"health-aggregator"},
}
PING_TYPE = "dev.knative.sources.ping"


def route(triggers: Iterable[dict[str, Any]], event: dict[str, str]) -> set[str]:
    """Names of the subscriber Services an event is delivered to, by the same evaluator the
    local broker uses (backup2gitops.core.triggers, Knative's filter semantics)."""
    parsed = [parse_trigger(t) for t in triggers]
    return {str(t.subscriber) for t in trigger_routes(parsed, event)}


def ping_event(name: str, namespace: str = "backup2gitops") -> dict[str, str]:
    return {
        "specversion": "1.0",
        "type": PING_TYPE,
        "source": f"/apis/v1/namespaces/{namespace}/pingsources/{name}",
        "id": "1",
    }


def catalog_event(event_type: str, emitter: str) -> dict[str, str]:
    return {
        "specversion": "1.0",
        "type": event_type,
        "source": f"/backup2gitops/{emitter}",
        "id": "1",
        "subject": "prod-eu1/20261123T020000Z",
        "cluster": "prod-eu1",
        "datacontenttype": "application/json",
    }


def exact_types(item: dict[str, Any]) -> Iterator[str]:
    """Every event type an exact filter (at any depth) asks for."""
    ((dialect, body),) = item.items()
    if dialect == "exact" and "type" in body:
        yield body["type"]
    elif dialect in ("all", "any"):
        for sub in body:
            yield from exact_types(sub)
