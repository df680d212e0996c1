"""Rule for core/v1 Services.

Pure: no I/O; only the standard library.

Like Velero's ``service_action.go``: the allocated ``clusterIP``/``clusterIPs`` and ``nodePort``s
go, so the Service can be created in another cluster (or after deletion) without a clash.
``clusterIP: None`` (headless) changes meaning and always stays. A value present in the
last-applied-configuration annotation was written by a person and stays. Defaults from
SetDefaults_Service (pkg/apis/core/v1/defaults.go) and the service REST storage
(pkg/registry/core/service/storage).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from backup2gitops.core.cleaning import defaults
from backup2gitops.core.cleaning.context import RuleContext
from backup2gitops.core.cleaning.podspec import PORT_DEFAULTS
from backup2gitops.core.cleaning.prune import as_dict, dicts, drop_defaults

HEADLESS = "None"
_EXTERNAL_TRAFFIC_DEFAULT: Final = {
    "externalTrafficPolicy": defaults.SERVICE_EXTERNAL_TRAFFIC_POLICY
}
_SESSION_AFFINITY_DEFAULT: Final = {
    "sessionAffinityConfig": defaults.SERVICE_SESSION_AFFINITY_CONFIG
}


def clean_service(obj: dict[str, Any], ctx: RuleContext) -> None:
    spec = as_dict(obj.get("spec"))
    if spec is None:
        return
    written = _written_spec(ctx.last_applied)
    service_type = spec.get("type", "ClusterIP")
    if not ctx.policy.keep_cluster_ip and spec.get("clusterIP") != HEADLESS:
        for key in ("clusterIP", "clusterIPs"):
            if key not in written:
                spec.pop(key, None)
    if spec.get("clusterIP") == HEADLESS and "clusterIPs" not in written:
        drop_defaults(spec, {"clusterIPs": [HEADLESS]})
    if not ctx.policy.keep_node_ports and "healthCheckNodePort" not in written:
        spec.pop("healthCheckNodePort", None)
    written_ports = dicts(written.get("ports"))
    for port in dicts(spec.get("ports")):
        if not ctx.policy.keep_node_ports and not _node_port_written(port, written_ports):
            port.pop("nodePort", None)
        drop_defaults(port, PORT_DEFAULTS)
        if "targetPort" in port and port.get("targetPort") == port.get("port"):
            del port["targetPort"]
    drop_defaults(spec, defaults.SERVICE_SPEC)
    families = spec.get("ipFamilies")
    if spec.get("ipFamilyPolicy") == defaults.SERVICE_SINGLE_STACK and (
        families is None or (isinstance(families, list) and len(families) == 1)
    ):
        del spec["ipFamilyPolicy"]
        spec.pop("ipFamilies", None)
    drop_defaults(spec, _EXTERNAL_TRAFFIC_DEFAULT)
    if service_type == "LoadBalancer":
        drop_defaults(spec, {"allocateLoadBalancerNodePorts": True})
    drop_defaults(spec, _SESSION_AFFINITY_DEFAULT)


def _written_spec(last_applied: Mapping[str, Any] | None) -> dict[str, Any]:
    spec = last_applied.get("spec") if last_applied else None
    return spec if isinstance(spec, dict) else {}


def _node_port_written(port: Mapping[str, Any], written_ports: list[dict[str, Any]]) -> bool:
    protocol = port.get("protocol", defaults.PORT_PROTOCOL)
    for candidate in written_ports:
        same_port = candidate.get("port") == port.get("port")
        same_protocol = candidate.get("protocol", defaults.PORT_PROTOCOL) == protocol
        if same_port and same_protocol and candidate.get("nodePort") == port.get("nodePort"):
            return "nodePort" in candidate
    return False


def clean_endpoints(obj: dict[str, Any], ctx: RuleContext) -> None:
    """Endpoints a person wrote (a selector-less Service's backends): SetDefaults_EndpointPort."""
    for subset in dicts(obj.get("subsets")):
        for port in dicts(subset.get("ports")):
            drop_defaults(port, PORT_DEFAULTS)


def clean_endpoint_slice(obj: dict[str, Any], ctx: RuleContext) -> None:
    """EndpointSlices a person wrote: SetDefaults_EndpointPort (discovery/v1) sets TCP."""
    for port in dicts(obj.get("ports")):
        drop_defaults(port, PORT_DEFAULTS)
