"""Rules for PersistentVolumes and PersistentVolumeClaims.

Pure: no I/O; only the standard library.

Defaults from SetDefaults_PersistentVolume / SetDefaults_PersistentVolumeClaimSpec
(pkg/apis/core/v1/defaults.go). The binder (pkg/controller/volume/persistentvolume) writes the
claimRef's uid/resourceVersion on a PV, and on a PVC the ``volumeName`` (marked by the annotation
``pv.kubernetes.io/bound-by-controller: "yes"``) and the storage-provisioner annotations.
A ``volumeName`` without that annotation is a static binding a person wrote and stays.
"""

from __future__ import annotations

from typing import Any

from backup2gitops.core.cleaning import defaults
from backup2gitops.core.cleaning.context import RuleContext
from backup2gitops.core.cleaning.prune import as_dict, drop_defaults, drop_if_empty, written_part

BOUND_BY_CONTROLLER = "pv.kubernetes.io/bound-by-controller"


def clean_persistent_volume(obj: dict[str, Any], ctx: RuleContext) -> None:
    spec = as_dict(obj.get("spec"))
    if spec is None:
        return
    drop_defaults(spec, defaults.PV_SPEC)
    host_path = as_dict(spec.get("hostPath"))
    if host_path is not None:
        drop_defaults(host_path, defaults.HOST_PATH)
    claim_ref = as_dict(spec.get("claimRef"))
    if claim_ref is not None:
        for key in defaults.PV_CLAIM_REF_SERVER_FIELDS:
            claim_ref.pop(key, None)


def clean_persistent_volume_claim(obj: dict[str, Any], ctx: RuleContext) -> None:
    metadata = as_dict(obj.get("metadata"))
    annotations = as_dict(metadata.get("annotations")) if metadata else None
    spec = as_dict(obj.get("spec"))
    if spec is not None:
        drop_defaults(spec, defaults.PVC_SPEC)
        if annotations is not None and annotations.get(BOUND_BY_CONTROLLER) == "yes":
            spec.pop("volumeName", None)
        # the DefaultStorageClass admission plugin fills storageClassName in; with a record of
        # what the person applied that lacks it, it was not theirs (without one, nothing tells)
        written = written_part(ctx.last_applied, "spec")
        if written is not None and "storageClassName" not in written:
            spec.pop("storageClassName", None)
    if metadata is not None and annotations is not None:
        for key in defaults.PVC_CONTROLLER_ANNOTATIONS:
            annotations.pop(key, None)
        drop_if_empty(metadata, ("annotations",))
