"""Rules for batch/v1 Jobs and CronJobs.

Pure: no I/O; only the standard library. Defaults from pkg/apis/batch/v1/defaults.go (see
``defaults.py``). Unless ``manualSelector: true``, the Job controller generates ``spec.selector``
and the controller-uid / job-name labels from the Job's uid; they are dropped so the API server
generates fresh ones. A Job template has no ``restartPolicy`` default (validation demands
Never or OnFailure), so it is always kept. SetDefaults_Job is not applied to a CronJob's
``jobTemplate``, so only the pod-template defaults are dropped there.
"""

from __future__ import annotations

from typing import Any

from backup2gitops.core.cleaning import defaults
from backup2gitops.core.cleaning.context import RuleContext
from backup2gitops.core.cleaning.metadata import clean_template_metadata
from backup2gitops.core.cleaning.prune import (
    as_dict,
    drop_defaults,
    drop_if_empty,
    drop_unwritten,
    written_part,
)
from backup2gitops.core.cleaning.workloads import clean_pod_template


def clean_job(obj: dict[str, Any], ctx: RuleContext) -> None:
    spec = as_dict(obj.get("spec"))
    if spec is None:
        return
    drop_defaults(spec, defaults.JOB_SPEC)
    drop_unwritten(spec, defaults.JOB_MANUAL_SELECTOR, written_part(ctx.last_applied, "spec"))
    one = defaults.JOB_COMPLETIONS_PARALLELISM
    if spec.get("completions") == one and spec.get("parallelism") == one:
        del spec["completions"], spec["parallelism"]
    replacement = (
        defaults.JOB_POD_REPLACEMENT_POLICY_WITH_FAILURE_POLICY
        if "podFailurePolicy" in spec
        else defaults.JOB_POD_REPLACEMENT_POLICY
    )
    drop_defaults(spec, {"podReplacementPolicy": replacement})
    template = as_dict(spec.get("template"))
    if spec.get("manualSelector") is not True:
        spec.pop("selector", None)
        _drop_controller_labels(obj)
        if template is not None:
            _drop_controller_labels(template)
    if template is not None:
        clean_pod_template(template, restart_policy_defaulted=False)


def clean_cronjob(obj: dict[str, Any], ctx: RuleContext) -> None:
    spec = as_dict(obj.get("spec"))
    if spec is None:
        return
    drop_defaults(spec, defaults.CRONJOB_SPEC)
    job_template = as_dict(spec.get("jobTemplate"))
    if job_template is None:
        return
    clean_template_metadata(job_template)
    job_spec = as_dict(job_template.get("spec"))
    template = as_dict(job_spec.get("template")) if job_spec else None
    if template is not None:
        clean_pod_template(template, restart_policy_defaulted=False)


def _drop_controller_labels(holder: dict[str, Any]) -> None:
    metadata = as_dict(holder.get("metadata"))
    labels = as_dict(metadata.get("labels")) if metadata else None
    if metadata is None or labels is None:
        return
    for key in defaults.JOB_CONTROLLER_LABELS:
        labels.pop(key, None)
    drop_if_empty(metadata, ("labels",))
