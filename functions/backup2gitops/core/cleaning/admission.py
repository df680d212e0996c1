"""Rules for admission webhooks and admission policies (admissionregistration.k8s.io/v1).

Pure: no I/O; only the standard library. Defaults from
pkg/apis/admissionregistration/v1/defaults.go (``defaults.py``): each webhook's
``failurePolicy``, ``matchPolicy``, ``namespaceSelector: {}``, ``objectSelector: {}``,
``timeoutSeconds: 10`` (and ``reinvocationPolicy: Never`` for mutating ones), a service
reference's ``port: 443``; a ValidatingAdmissionPolicy's ``failurePolicy``; a binding's
``matchResources`` when it holds nothing but the server's defaults. Each goes unless the person
wrote it (the last-applied configuration, or the Apply-owned fields).

A rule's ``scope: '*'`` stays: ``rules``, ``resourceRules`` and ``excludeResourceRules`` are
atomic lists (``+listType=atomic`` in k8s.io/api admissionregistration/v1), and server-side
apply compares an atomic value as applied, before defaulting. Without the server's ``scope``,
the list is a *different* value, and applying it to the cluster it came from is refused as a
conflict with whoever created the webhook (measured on kube-apiserver v1.34.4:
``conflicts with "kubectl-client-side-apply": .webhooks[name=...].rules``). For the same reason
the defaults inside a policy's ``matchConstraints`` (an atomic struct, ``+structType=atomic``)
stay. Omitted fields never conflict, so every other default here can go.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from backup2gitops.core.cleaning import defaults
from backup2gitops.core.cleaning.context import RuleContext
from backup2gitops.core.cleaning.prune import as_dict, dicts, drop_unwritten, written_part


def clean_validating_webhooks(obj: dict[str, Any], ctx: RuleContext) -> None:
    _clean_webhooks(obj, defaults.WEBHOOK, ctx)


def clean_mutating_webhooks(obj: dict[str, Any], ctx: RuleContext) -> None:
    _clean_webhooks(obj, defaults.MUTATING_WEBHOOK, ctx)


def _clean_webhooks(
    obj: dict[str, Any], webhook_defaults: dict[str, Any], ctx: RuleContext
) -> None:
    written_hooks = _by_name(written_part(ctx.last_applied, "webhooks"))
    for webhook in dicts(obj.get("webhooks")):
        written = None if written_hooks is None else written_hooks.get(str(webhook.get("name")), {})
        drop_unwritten(webhook, webhook_defaults, written)
        config = as_dict(webhook.get("clientConfig"))
        service = as_dict(config.get("service")) if config else None
        if service is not None:
            drop_unwritten(
                service,
                defaults.SERVICE_REFERENCE,
                written_part(written, "clientConfig", "service"),
            )


def clean_admission_policy(obj: dict[str, Any], ctx: RuleContext) -> None:
    spec = as_dict(obj.get("spec"))
    if spec is None:
        return
    drop_unwritten(spec, defaults.POLICY_SPEC, written_part(ctx.last_applied, "spec"))


def clean_admission_policy_binding(obj: dict[str, Any], ctx: RuleContext) -> None:
    spec = as_dict(obj.get("spec"))
    if spec is None:
        return
    written = written_part(ctx.last_applied, "spec")
    param_ref = as_dict(spec.get("paramRef"))
    if param_ref is not None:
        drop_unwritten(param_ref, defaults.PARAM_REF, written_part(written, "paramRef"))
    match = spec.get("matchResources")
    written_match = isinstance(written, Mapping) and "matchResources" in written
    if match == defaults.MATCH_RESOURCES and not written_match:
        del spec["matchResources"]  # only the server's: omitted, it conflicts with no one


def _by_name(written: Any) -> dict[str, Any] | None:
    if written is None:
        return None
    if not isinstance(written, list):
        return {}
    return {str(w.get("name")): w for w in written if isinstance(w, Mapping)}
