"""Kubernetes API-server defaults, as data.

Pure: no I/O; only the standard library.

Each table names the Kubernetes source that sets the value, so a reviewer can check it against
the release in use. A field is dropped by the cleaning rules only when its value equals the
default below *exactly* (an explicit non-default always stays). Sources (kubernetes/kubernetes):

- ``pkg/apis/core/v1/defaults.go``: ``SetDefaults_Pod``, ``SetDefaults_PodSpec``,
  ``SetDefaults_Container``, ``SetDefaults_Probe``, ``SetDefaults_HTTPGetAction``,
  ``SetDefaults_SecretVolumeSource`` (and ConfigMap, Projected, DownwardAPI),
  ``SetDefaults_Service``, ``SetDefaults_PersistentVolume``,
  ``SetDefaults_PersistentVolumeClaimSpec``,
  ``SetDefaults_ObjectFieldSelector``.
- ``pkg/apis/apps/v1/defaults.go``: ``SetDefaults_Deployment``, ``SetDefaults_StatefulSet``,
  ``SetDefaults_DaemonSet``.
- ``pkg/apis/batch/v1/defaults.go``: ``SetDefaults_Job``, ``SetDefaults_CronJob``.
- ``pkg/registry/core/service/storage/alloc.go``: ``ipFamilies`` / ``ipFamilyPolicy`` chosen by
  the service REST storage on a single-stack cluster.
- ``plugin/pkg/admission/``: ``serviceaccount`` (the ``kube-api-access-*`` projected volume),
  ``defaulttolerationseconds`` (not-ready / unreachable tolerations, 300 s) and ``priority``
  (``priority``, ``preemptionPolicy``). These are admission plugins, not defaulting functions; they
  only touch Pods, never pod templates.
"""

from __future__ import annotations

from typing import Any, Final

# --- pkg/apis/core/v1/defaults.go: SetDefaults_PodSpec (applies to Pods AND pod templates) ---
POD_SPEC: Final[dict[str, Any]] = {
    "dnsPolicy": "ClusterFirst",
    "schedulerName": "default-scheduler",
    "securityContext": {},
    "terminationGracePeriodSeconds": 30,
}
# SetDefaults_PodSpec also sets restartPolicy Always. Validation of batch/v1 Job templates only
# accepts Never/OnFailure, so a Job's restartPolicy is always written by a person: the rule for
# Always is applied to Pods and apps/v1 workloads only.
POD_RESTART_POLICY: Final[str] = "Always"

# --- pkg/apis/core/v1/defaults.go: SetDefaults_Pod (Pod objects only, not pod templates) ---
POD_ONLY: Final[dict[str, Any]] = {
    "enableServiceLinks": True,  # v1.DefaultEnableServiceLinks
}

# --- pkg/apis/core/v1/defaults.go: SetDefaults_Container ---
CONTAINER: Final[dict[str, Any]] = {
    "terminationMessagePath": "/dev/termination-log",
    "terminationMessagePolicy": "File",
    "resources": {},  # non-pointer struct: always serialised, empty when nobody set it
}
# imagePullPolicy: Always for ":latest" or no tag, IfNotPresent otherwise (also for a digest).
IMAGE_PULL_POLICY_LATEST: Final[str] = "Always"
IMAGE_PULL_POLICY_TAGGED: Final[str] = "IfNotPresent"

# --- SetDefaults_ContainerPort / SetDefaults_ServicePort ---
PORT_PROTOCOL: Final[str] = "TCP"

# --- SetDefaults_Probe / SetDefaults_HTTPGetAction ---
PROBE: Final[dict[str, Any]] = {
    "timeoutSeconds": 1,
    "periodSeconds": 10,
    "successThreshold": 1,
    "failureThreshold": 3,
}
HTTP_GET: Final[dict[str, Any]] = {"path": "/", "scheme": "HTTP"}

# --- SetDefaults_ObjectFieldSelector: apiVersion "v1" stays, inside an atomic struct (podspec) ---

# --- SetDefaults_{Secret,ConfigMap,Projected,DownwardAPI}VolumeSource: 0644 octal ---
VOLUME_DEFAULT_MODE: Final[int] = 420
VOLUME_SOURCES_WITH_DEFAULT_MODE: Final[tuple[str, ...]] = (
    "secret",
    "configMap",
    "projected",
    "downwardAPI",
)
# SetDefaults_HostPathVolumeSource: type "" (HostPathUnset).
HOST_PATH: Final[dict[str, Any]] = {"type": ""}

# --- admission plugins (Pods only) ---
SERVICE_ACCOUNT_VOLUME_PREFIX: Final[str] = "kube-api-access-"
SERVICE_ACCOUNT_MOUNT_PATH: Final[str] = "/var/run/secrets/kubernetes.io/serviceaccount"
DEFAULT_TOLERATIONS: Final[tuple[dict[str, Any], ...]] = (
    {
        "effect": "NoExecute",
        "key": "node.kubernetes.io/not-ready",
        "operator": "Exists",
        "tolerationSeconds": 300,
    },
    {
        "effect": "NoExecute",
        "key": "node.kubernetes.io/unreachable",
        "operator": "Exists",
        "tolerationSeconds": 300,
    },
)
DEFAULT_PREEMPTION_POLICY: Final[str] = "PreemptLowerPriority"

# --- pkg/apis/apps/v1/defaults.go ---
# SetDefaults_Deployment / _StatefulSet / _ReplicaSet: replicas 1 when unset (not DaemonSets).
# Dropped field by field (``prune.drop_unwritten``): a strategy with maxSurge: 1 keeps only that.
REPLICAS: Final[dict[str, Any]] = {"replicas": 1}
DEPLOYMENT_SPEC: Final[dict[str, Any]] = {
    "strategy": {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
    },
    "revisionHistoryLimit": 10,
    "progressDeadlineSeconds": 600,
}
STATEFULSET_SPEC: Final[dict[str, Any]] = {
    "podManagementPolicy": "OrderedReady",
    "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
    "revisionHistoryLimit": 10,
    "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
}
DAEMONSET_SPEC: Final[dict[str, Any]] = {
    "updateStrategy": {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0},
    },
    "revisionHistoryLimit": 10,
}

# --- pkg/apis/batch/v1/defaults.go ---
JOB_SPEC: Final[dict[str, Any]] = {
    "backoffLimit": 6,
    "completionMode": "NonIndexed",
    "suspend": False,
}
# completions and parallelism are both defaulted to 1 only when both were unset.
JOB_COMPLETIONS_PARALLELISM: Final[int] = 1
# podReplacementPolicy: TerminatingOrFailed, or Failed when a podFailurePolicy is set.
JOB_POD_REPLACEMENT_POLICY: Final[str] = "TerminatingOrFailed"
JOB_POD_REPLACEMENT_POLICY_WITH_FAILURE_POLICY: Final[str] = "Failed"
JOB_CONTROLLER_LABELS: Final[tuple[str, ...]] = (
    "controller-uid",
    "batch.kubernetes.io/controller-uid",
    "job-name",
    "batch.kubernetes.io/job-name",
)
CRONJOB_SPEC: Final[dict[str, Any]] = {
    "concurrencyPolicy": "Allow",
    "suspend": False,
    "successfulJobsHistoryLimit": 3,
    "failedJobsHistoryLimit": 1,
}

# --- pkg/apis/core/v1/defaults.go: SetDefaults_Service (+ service REST storage) ---
SERVICE_SPEC: Final[dict[str, Any]] = {
    "sessionAffinity": "None",
    "type": "ClusterIP",
    "internalTrafficPolicy": "Cluster",
}
SERVICE_SINGLE_STACK: Final[str] = "SingleStack"
# externalTrafficPolicy Cluster is defaulted for NodePort and LoadBalancer services;
# allocateLoadBalancerNodePorts true for LoadBalancer services.
SERVICE_EXTERNAL_TRAFFIC_POLICY: Final[str] = "Cluster"
SERVICE_SESSION_AFFINITY_CONFIG: Final[dict[str, Any]] = {"clientIP": {"timeoutSeconds": 10800}}

# --- SetDefaults_PersistentVolumeClaimSpec / SetDefaults_PersistentVolume ---
PVC_SPEC: Final[dict[str, Any]] = {"volumeMode": "Filesystem"}
PV_SPEC: Final[dict[str, Any]] = {
    "volumeMode": "Filesystem",
    "persistentVolumeReclaimPolicy": "Retain",
}
# Set on claimRef by the PV binder (pkg/controller/volume/persistentvolume).
PV_CLAIM_REF_SERVER_FIELDS: Final[tuple[str, ...]] = ("uid", "resourceVersion")

# --- metadata written by the API server or by controllers ---
SERVER_METADATA: Final[tuple[str, ...]] = (
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "managedFields",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
)
LAST_APPLIED: Final[str] = "kubectl.kubernetes.io/last-applied-configuration"
SERVER_ANNOTATIONS: Final[tuple[str, ...]] = (
    LAST_APPLIED,
    "deployment.kubernetes.io/revision",
    "deprecated.daemonset.template.generation",
    "batch.kubernetes.io/job-tracking",  # set by the Job controller, 1.23-1.28
)
SERVER_ANNOTATION_PREFIXES: Final[tuple[str, ...]] = ("pv.kubernetes.io/",)
# PVC annotations written by the PV controller / scheduler, not by a person.
PVC_CONTROLLER_ANNOTATIONS: Final[tuple[str, ...]] = (
    "volume.beta.kubernetes.io/storage-provisioner",
    "volume.kubernetes.io/storage-provisioner",
    "volume.kubernetes.io/selected-node",
)
# Finalizers added by the storage-object-in-use-protection admission plugin.
PROTECTION_FINALIZERS: Final[tuple[str, ...]] = (
    "kubernetes.io/pvc-protection",
    "kubernetes.io/pv-protection",
)
# Label set on every Namespace by the API server (NamespaceDefaultLabelName, 1.21+).
NAMESPACE_NAME_LABEL: Final[str] = "kubernetes.io/metadata.name"
NAMESPACE_SPEC: Final[dict[str, Any]] = {"finalizers": ["kubernetes"]}

# --- staging/src/k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1/defaults.go ---
CRD_SPEC: Final[dict[str, Any]] = {"conversion": {"strategy": "None"}}
# SetDefaults_CustomResourceDefinitionSpec: names.listKind = kind + "List",
# names.singular = lower(kind) (computed per object in ``customresourcedefinition``).

# --- pkg/apis/batch/v1/defaults.go: SetDefaults_Job sets manualSelector false (1.31+) ---
JOB_MANUAL_SELECTOR: Final[dict[str, Any]] = {"manualSelector": False}

# --- pkg/apis/admissionregistration/v1/defaults.go ---
# SetDefaults_ValidatingWebhook / SetDefaults_MutatingWebhook (+ ReinvocationPolicy Never)
WEBHOOK: Final[dict[str, Any]] = {
    "failurePolicy": "Fail",
    "matchPolicy": "Equivalent",
    "namespaceSelector": {},
    "objectSelector": {},
    "timeoutSeconds": 10,
}
MUTATING_WEBHOOK: Final[dict[str, Any]] = {**WEBHOOK, "reinvocationPolicy": "Never"}
# SetDefaults_ServiceReference: port 443. (SetDefaults_Rule's scope "*" is inside atomic lists
# and stays: see ``admission``.)
SERVICE_REFERENCE: Final[dict[str, Any]] = {"port": 443}
# SetDefaults_ValidatingAdmissionPolicySpec: failurePolicy Fail; SetDefaults_MatchResources
POLICY_SPEC: Final[dict[str, Any]] = {"failurePolicy": "Fail"}
MATCH_RESOURCES: Final[dict[str, Any]] = {
    "matchPolicy": "Equivalent",
    "namespaceSelector": {},
    "objectSelector": {},
}
# SetDefaults_ParamRef: parameterNotFoundAction Deny
PARAM_REF: Final[dict[str, Any]] = {"parameterNotFoundAction": "Deny"}

# --- pkg/apis/scheduling/v1/defaults.go: SetDefaults_PriorityClass ---
PRIORITY_CLASS: Final[dict[str, Any]] = {"preemptionPolicy": "PreemptLowerPriority"}

# --- pkg/apis/storage/v1/defaults.go: SetDefaults_StorageClass ---
STORAGE_CLASS: Final[dict[str, Any]] = {
    "reclaimPolicy": "Delete",
    "volumeBindingMode": "Immediate",
}
