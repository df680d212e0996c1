"""Rule for standalone Pods (controller-owned Pods are excluded before cleaning).

Pure: no I/O; only the standard library.

Like Velero's ``pod_action.go``: ``nodeName`` goes (the scheduler binds the new Pod). Besides the
PodSpec defaults, a Pod carries what SetDefaults_Pod and the admission plugins added, none of it
written by a person: ``enableServiceLinks: true``, ``serviceAccountName: default``, the
``kube-api-access-*`` projected volume and its mounts (or, before 1.24, the ``<sa>-token-*``
Secret volume mounted at the token path: a Secret another cluster does not have), the not-ready/unreachable tolerations,
``priority`` (recomputed from ``priorityClassName``; a stale value is rejected) and the default
``preemptionPolicy``.
"""

from __future__ import annotations

from typing import Any

from backup2gitops.core.cleaning import defaults
from backup2gitops.core.cleaning.context import RuleContext
from backup2gitops.core.cleaning.podspec import CONTAINER_LISTS, clean_pod_spec
from backup2gitops.core.cleaning.prune import as_dict, dicts, drop_defaults, drop_if_empty


def clean_pod(obj: dict[str, Any], ctx: RuleContext) -> None:
    spec = as_dict(obj.get("spec"))
    if spec is None:
        return
    spec.pop("nodeName", None)
    spec.pop("priority", None)
    drop_defaults(spec, defaults.POD_ONLY)
    drop_defaults(spec, {"preemptionPolicy": defaults.DEFAULT_PREEMPTION_POLICY})
    if spec.get("serviceAccountName") == "default" and spec.get("serviceAccount") in (
        None,
        "default",
    ):
        spec.pop("serviceAccountName")
        spec.pop("serviceAccount", None)
    _drop_service_account_volume(spec)
    if isinstance(spec.get("tolerations"), list):
        spec["tolerations"] = [
            t for t in spec["tolerations"] if t not in defaults.DEFAULT_TOLERATIONS
        ]
    drop_if_empty(spec, ("tolerations",))
    clean_pod_spec(spec, restart_policy_defaulted=True)


def _drop_service_account_volume(spec: dict[str, Any]) -> None:
    injected = {
        volume.get("name")
        for volume in dicts(spec.get("volumes"))
        if (
            str(volume.get("name", "")).startswith(defaults.SERVICE_ACCOUNT_VOLUME_PREFIX)
            and _is_token_projection(volume)
        )
        or (_is_token_secret(volume) and _mounted_at_token_path(spec, str(volume.get("name"))))
    }
    if not injected:
        return
    spec["volumes"] = [
        v for v in spec["volumes"] if not (isinstance(v, dict) and v.get("name") in injected)
    ]
    drop_if_empty(spec, ("volumes",))
    for key in CONTAINER_LISTS:
        for container in dicts(spec.get(key)):
            mounts = container.get("volumeMounts")
            if isinstance(mounts, list):
                container["volumeMounts"] = [
                    m for m in mounts if not (isinstance(m, dict) and m.get("name") in injected)
                ]
                drop_if_empty(container, ("volumeMounts",))


def _is_token_secret(volume: dict[str, Any]) -> bool:
    """The pre-1.24 form: the ServiceAccount admission plugin mounted the ``<sa>-token-<x>``
    Secret as a volume of the same name (plugin/pkg/admission/serviceaccount/admission.go)."""
    secret = as_dict(volume.get("secret"))
    name = str(volume.get("name", ""))
    return secret is not None and secret.get("secretName") == name and "-token-" in name


def _mounted_at_token_path(spec: dict[str, Any], volume: str) -> bool:
    return any(
        mount.get("name") == volume
        and mount.get("mountPath") == defaults.SERVICE_ACCOUNT_MOUNT_PATH
        for key in CONTAINER_LISTS
        for container in dicts(spec.get(key))
        for mount in dicts(container.get("volumeMounts"))
    )


def _is_token_projection(volume: dict[str, Any]) -> bool:
    projected = as_dict(volume.get("projected"))
    sources = dicts(projected.get("sources")) if projected else []
    return any("serviceAccountToken" in source for source in sources)
