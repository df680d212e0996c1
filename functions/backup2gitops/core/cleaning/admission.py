"""Rules for admission webhooks and admission policies (admissionregistration.k8s.io/v1).

Pure: no I/O; only the standard library. Defaults from
pkg/apis/admissionregistration/v1/defaults.go (``defaults.py``): each webhook's
``failurePolicy``, ``matchPolicy``, ``namespaceSelector: {}``, ``objectSelector: {}``,
``timeoutSeconds: 10`` (and ``reinvocationPolicy: Never`` for mutating ones), every rule's
``scope: '*'``, a service reference's ``port: 443``; a ValidatingAdmissionPolicy's
``failurePolicy`` and its ``matchConstraints`` (its bindings' ``matchResources``) defaults. Each goes unless the
person wrote it (the last-applied configuration, or the Apply-owned fields).
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
        _clean_rules(webhook.get("rules"), written_part(written, "rules"))


def clean_admission_policy(obj: dict[str, Any], ctx: RuleContext) -> None:
    spec = as_dict(obj.get("spec"))
    if spec is None:
        return
    written = written_part(ctx.last_applied, "spec")
    drop_unwritten(spec, defaults.POLICY_SPEC, written)
    _clean_match_resources(spec, written, key="matchConstraints")


def clean_admission_policy_binding(obj: dict[str, Any], ctx: RuleContext) -> None:
    spec = as_dict(obj.get("spec"))
    if spec is None:
        return
    written = written_part(ctx.last_applied, "spec")
    param_ref = as_dict(spec.get("paramRef"))
    if param_ref is not None:
        drop_unwritten(param_ref, defaults.PARAM_REF, written_part(written, "paramRef"))
    _clean_match_resources(spec, written, key="matchResources")


def _clean_match_resources(spec: dict[str, Any], written: Any, *, key: str) -> None:
    match = as_dict(spec.get(key))
    if match is None:
        return
    written_match = written_part(written, key)
    drop_unwritten(match, defaults.MATCH_RESOURCES, written_match)
    for rules in ("resourceRules", "excludeResourceRules"):
        _clean_rules(match.get(rules), written_part(written_match, rules))
    if not match and not (isinstance(written, Mapping) and key in written):
        del spec[key]


def _clean_rules(rules: Any, written: Any) -> None:
    written_rules = written if isinstance(written, list) else None
    items = dicts(rules)
    for position, rule in enumerate(items):
        if written is None:
            counterpart = None
        elif written_rules is not None and len(written_rules) == len(items):
            counterpart = written_rules[position]
        else:
            counterpart = {"scope": True}  # cannot be paired: keep what may be written
        drop_unwritten(rule, defaults.RULE, counterpart)


def _by_name(written: Any) -> dict[str, Any] | None:
    if written is None:
        return None
    if not isinstance(written, list):
        return {}
    return {str(w.get("name")): w for w in written if isinstance(w, Mapping)}
