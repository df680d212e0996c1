"""The rule table: (group, kind) -> the rules that clean that kind, as Velero registers actions.

Pure: no I/O; only the standard library.

Kind rules run first (some read annotations the common rule removes, e.g. the PVC binder
annotation); a custom resource whose CRD is in the backup (``RuleContext.index``) loses that
CRD's schema defaults (``schema_defaults``); then what the person applied is put back where a
rule removed it as a default (``written``); then what controllers wrote into the object goes
(``controller_fields``, for every kind); then ``metadata.clean_common`` runs for every
object, known kind or not.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from backup2gitops.core.cleaning import (
    admission,
    classes,
    controller_fields,
    customresourcedefinition,
    job,
    metadata,
    namespace,
    persistentvolume,
    pod,
    rbac,
    service,
    workloads,
    written,
)
from backup2gitops.core.cleaning.context import Rule, RuleContext
from backup2gitops.core.cleaning.objectref import split_api_version
from backup2gitops.core.cleaning.schema_defaults import prune_defaults

RULES: Final[Mapping[tuple[str, str], tuple[Rule, ...]]] = {
    ("", "Pod"): (pod.clean_pod,),
    ("", "Service"): (service.clean_service,),
    ("", "Endpoints"): (service.clean_endpoints,),
    ("discovery.k8s.io", "EndpointSlice"): (service.clean_endpoint_slice,),
    ("", "PersistentVolume"): (persistentvolume.clean_persistent_volume,),
    ("", "PersistentVolumeClaim"): (persistentvolume.clean_persistent_volume_claim,),
    ("", "Namespace"): (namespace.clean_namespace,),
    ("apps", "Deployment"): (workloads.clean_deployment,),
    ("apps", "StatefulSet"): (workloads.clean_statefulset,),
    ("apps", "DaemonSet"): (workloads.clean_daemonset,),
    ("apps", "ReplicaSet"): (workloads.clean_replicaset,),
    ("batch", "Job"): (job.clean_job,),
    ("batch", "CronJob"): (job.clean_cronjob,),
    ("apiextensions.k8s.io", "CustomResourceDefinition"): (customresourcedefinition.clean_crd,),
    ("rbac.authorization.k8s.io", "ClusterRole"): (rbac.clean_cluster_role,),
    ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"): (
        admission.clean_validating_webhooks,
    ),
    ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"): (
        admission.clean_mutating_webhooks,
    ),
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"): (
        admission.clean_admission_policy,
    ),
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding"): (
        admission.clean_admission_policy_binding,
    ),
    ("scheduling.k8s.io", "PriorityClass"): (classes.clean_priority_class,),
    ("storage.k8s.io", "StorageClass"): (classes.clean_storage_class,),
}

#: for every object, after its kind's rules (which may read what these remove)
AFTER_KIND_RULES: Final[tuple[Rule, ...]] = (
    written.restore_written,  # first: the rules below remove what is not a person's anyway
    controller_fields.drop_injected_ca,
    controller_fields.drop_autoscaled_replicas,
    controller_fields.drop_controller_fields,
    controller_fields.strip_gitops_marks,
    controller_fields.apply_ignore_differences,
)


def apply_rules(obj: dict[str, Any], ctx: RuleContext) -> None:
    """Clean ``obj`` (the caller's own fresh copy) in place."""
    group, version = split_api_version(str(obj.get("apiVersion") or ""))
    kind = str(obj.get("kind") or "")
    for rule in RULES.get((group, kind), ()):
        rule(obj, ctx)
    schema = ctx.index.schema_defaults.get((group, version, kind))
    if schema is not None:
        prune_defaults(obj, schema, applied=ctx.last_applied)
    for rule in AFTER_KIND_RULES:
        rule(obj, ctx)
    metadata.clean_common(obj, ctx)
