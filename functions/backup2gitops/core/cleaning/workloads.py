"""Rules for apps/v1 workloads and the pod templates of every workload kind.

Pure: no I/O; only the standard library. Defaults from pkg/apis/apps/v1/defaults.go
(see ``defaults.py``); pod-template defaults from pkg/apis/core/v1/defaults.go via ``podspec``.
A pod template gets SetDefaults_PodSpec but not SetDefaults_Pod, so ``enableServiceLinks`` and
the admission-plugin additions never appear there and are not touched.
"""

from __future__ import annotations

from typing import Any, Final

from backup2gitops.core.cleaning import defaults
from backup2gitops.core.cleaning.context import RuleContext
from backup2gitops.core.cleaning.metadata import clean_template_metadata
from backup2gitops.core.cleaning.podspec import clean_pod_spec
from backup2gitops.core.cleaning.prune import as_dict, dicts, drop_unwritten, written_part

#: set on the pod template by ``kubectl rollout restart`` (staging/src/k8s.io/kubectl/pkg/
#: polymorphichelpers/objectrestarter.go): a restart, not a change of desired state
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
_DEPLOYMENT_DEFAULTS: Final = {**defaults.REPLICAS, **defaults.DEPLOYMENT_SPEC}
_STATEFULSET_DEFAULTS: Final = {**defaults.REPLICAS, **defaults.STATEFULSET_SPEC}


def clean_pod_template(template: dict[str, Any], *, restart_policy_defaulted: bool) -> None:
    metadata = as_dict(template.get("metadata"))
    annotations = as_dict(metadata.get("annotations")) if metadata else None
    if annotations is not None:
        annotations.pop(RESTARTED_AT, None)
    clean_template_metadata(template)
    spec = as_dict(template.get("spec"))
    if spec is not None:
        clean_pod_spec(spec, restart_policy_defaulted=restart_policy_defaulted)


def clean_deployment(obj: dict[str, Any], ctx: RuleContext) -> None:
    _clean_apps(obj, _DEPLOYMENT_DEFAULTS, ctx)


def clean_daemonset(obj: dict[str, Any], ctx: RuleContext) -> None:
    _clean_apps(obj, defaults.DAEMONSET_SPEC, ctx)


def clean_replicaset(obj: dict[str, Any], ctx: RuleContext) -> None:
    _clean_apps(obj, defaults.REPLICAS, ctx)


def clean_statefulset(obj: dict[str, Any], ctx: RuleContext) -> None:
    """``volumeClaimTemplates`` stay as the server stores them (TypeMeta, ``volumeMode``,
    ``status.phase``), all but the null timestamp.

    The list is atomic (``+listType=atomic`` in k8s.io/api apps/v1 types.go), and server-side
    apply compares an atomic value as applied, before defaulting: a template without the
    server's ``apiVersion``/``kind``/``volumeMode``/``status`` is a *different* value, so
    ``kubectl apply --server-side`` (Flux, Argo CD with ServerSideApply) is refused with a
    conflict on ``.spec.volumeClaimTemplates`` against whoever created the StatefulSet —
    measured on kube-apiserver v1.34.4, with the person's own original manifest too.
    """
    spec = _clean_apps(obj, _STATEFULSET_DEFAULTS, ctx)
    for claim in dicts(spec.get("volumeClaimTemplates") if spec else None):
        clean_template_metadata(claim)


def _clean_apps(
    obj: dict[str, Any], spec_defaults: dict[str, Any], ctx: RuleContext
) -> dict[str, Any] | None:
    spec = as_dict(obj.get("spec"))
    if spec is None:
        return None
    drop_unwritten(spec, spec_defaults, written_part(ctx.last_applied, "spec"))
    template = as_dict(spec.get("template"))
    if template is not None:
        clean_pod_template(template, restart_policy_defaulted=True)
    return spec
