"""Defaults in a PodSpec and its containers, shared by Pods and every pod template.

Pure: no I/O; only the standard library. Values come from ``defaults.py`` (SetDefaults_PodSpec,
SetDefaults_Container, SetDefaults_Probe, volume sources in pkg/apis/core/v1/defaults.go). The
default inside an env var's atomic ``fieldRef`` (``apiVersion: v1``) stays (see ``clean_container``).
"""

from __future__ import annotations

from typing import Any, Final

from backup2gitops.core.cleaning import defaults
from backup2gitops.core.cleaning.prune import as_dict, dicts, drop_defaults

CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")
PROBES = ("livenessProbe", "readinessProbe", "startupProbe")
PORT_DEFAULTS: Final = {"protocol": defaults.PORT_PROTOCOL}


def clean_pod_spec(spec: dict[str, Any], *, restart_policy_defaulted: bool) -> None:
    """Drop defaulted fields of ``spec``; ``restartPolicy: Always`` only where it is a default."""
    drop_defaults(spec, defaults.POD_SPEC)
    if restart_policy_defaulted and spec.get("restartPolicy") == defaults.POD_RESTART_POLICY:
        del spec["restartPolicy"]
    # serviceAccount is the deprecated alias the server mirrors from serviceAccountName.
    if "serviceAccount" in spec:
        alias = spec.pop("serviceAccount")
        spec.setdefault("serviceAccountName", alias)
    for key in CONTAINER_LISTS:
        for container in dicts(spec.get(key)):
            clean_container(container)
    for volume in dicts(spec.get("volumes")):
        clean_volume(volume)


def clean_container(container: dict[str, Any]) -> None:
    drop_defaults(container, defaults.CONTAINER)
    image = container.get("image")
    if isinstance(image, str) and container.get("imagePullPolicy") == default_pull_policy(image):
        del container["imagePullPolicy"]
    for port in dicts(container.get("ports")):
        drop_defaults(port, PORT_DEFAULTS)
    for key in PROBES:
        probe = as_dict(container.get(key))
        if probe is None:
            continue
        drop_defaults(probe, defaults.PROBE)
        http_get = as_dict(probe.get("httpGet"))
        if http_get is not None:
            drop_defaults(http_get, defaults.HTTP_GET)
    # An env var's ``fieldRef`` keeps the server's ``apiVersion: v1``: ObjectFieldSelector is an
    # atomic struct (``+structType=atomic`` in k8s.io/api core/v1), and server-side apply compares
    # an atomic value as applied. Without it, applying the object to a cluster where the install
    # was created with kubectl is refused (ingress-nginx's deploy.yaml, measured on v1.34.4:
    # ``conflicts with "kubectl-client-side-apply": ...env[name="POD_NAME"].valueFrom.fieldRef``).


def clean_volume(volume: dict[str, Any]) -> None:
    for source in defaults.VOLUME_SOURCES_WITH_DEFAULT_MODE:
        body = as_dict(volume.get(source))
        if body is not None:
            drop_defaults(body, {"defaultMode": defaults.VOLUME_DEFAULT_MODE})
    host_path = as_dict(volume.get("hostPath"))
    if host_path is not None:
        drop_defaults(host_path, defaults.HOST_PATH)


def default_pull_policy(image: str) -> str:
    """The imagePullPolicy the server picks for ``image`` (SetDefaults_Container).

    The tag is ``latest`` when there is neither tag nor digest; ``latest`` -> Always, anything
    else (another tag, or a digest without tag) -> IfNotPresent.
    """
    name, _, digest = image.partition("@")
    last = name.rsplit("/", 1)[-1]
    _, colon, tag = last.partition(":")
    if not colon and not digest:
        tag = "latest"
    if tag == "latest":
        return defaults.IMAGE_PULL_POLICY_LATEST
    return defaults.IMAGE_PULL_POLICY_TAGGED
