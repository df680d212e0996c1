"""Values controllers write into objects people made: injected CA bundles, autoscaled replicas,
controller finalizers and any other field only controllers own.

Pure: no I/O; only the standard library.

Three rules, applied to every object after its kind's rules (and, after them, the user's
choices: another GitOps tool's marks stripped, the ``ignore_differences`` rules):

- ``drop_controller_fields``: the fields ``managedFields`` gives to controllers only
  (``field_ownership``, ``field_managers``): cert-manager's cainjector applying a ``caBundle``
  with force, ingress-nginx's ``kube-webhook-certgen`` patching one, a Flux controller's
  ``finalizers.fluxcd.io``, kube-controller-manager's scale update of ``spec.replicas``.
- ``drop_injected_ca``: the ``caBundle`` of an object that asks cert-manager to inject it
  (``cert-manager.io/inject-ca-from``, ``-from-secret``, ``inject-apiserver-ca``: cert-manager
  pkg/apis/meta/v1 and docs/concepts/ca-injector), even when ``managedFields`` were not kept.
  The target cluster's own injector fills it in: committed, the source cluster's CA would be
  applied over it, or refused as a conflict with ``cainjector``.
- ``drop_autoscaled_replicas``: ``spec.replicas`` of an object a HorizontalPodAutoscaler of the
  same backup scales (its ``scaleTargetRef``): the HPA sets it; in git it churns on every scale
  and pins a stale count at the next sync.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from backup2gitops.core.cleaning import defaults
from backup2gitops.core.cleaning.context import RuleContext, last_applied
from backup2gitops.core.cleaning.field_ownership import MISSING, drop_owned, has_managed_fields
from backup2gitops.core.cleaning.gitops_owners import strip_marks
from backup2gitops.core.cleaning.ignore_rules import apply_ignore_rules
from backup2gitops.core.cleaning.objectref import ObjectRef
from backup2gitops.core.cleaning.prune import as_dict, dicts

INJECT_CA_ANNOTATIONS: Final = (
    "cert-manager.io/inject-ca-from",
    "cert-manager.io/inject-ca-from-secret",
    "cert-manager.io/inject-apiserver-ca",
)
WEBHOOK_CONFIGURATIONS: Final = frozenset(
    {
        ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"),
        ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"),
    }
)


#: fields a controller writes that a restore needs all the same: a static PersistentVolume's
#: ``claimRef`` (the binder's) is what binds it back to its claim, whose controller-set
#: ``volumeName`` goes (``persistentvolume``); without it the binder may pick another claim
KEPT_CONTROLLER_FIELDS: Final[Mapping[tuple[str, str], tuple[str, ...]]] = {
    ("", "PersistentVolume"): ("f:spec", "f:claimRef"),
}


def drop_controller_fields(obj: dict[str, Any], ctx: RuleContext) -> None:
    ownership = ctx.ownership
    if ownership is None:
        return
    written = ctx.client_applied if ctx.client_applied is not None else MISSING
    owned = ownership.controllers
    ref = ObjectRef.of(obj)
    kept_path = KEPT_CONTROLLER_FIELDS.get((ref.group, ref.kind))
    if kept_path is not None:
        owned = _without(owned, kept_path)
    drop_owned(obj, owned, kept=ownership.people, written=written)


def _without(tree: Mapping[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    head, *rest = path
    result = dict(tree)
    if head in result:
        if rest:
            result[head] = _without(result[head], tuple(rest))
        else:
            del result[head]
    return result


def drop_injected_ca(obj: dict[str, Any], ctx: RuleContext) -> None:
    metadata = as_dict(obj.get("metadata"))
    annotations = as_dict(metadata.get("annotations")) if metadata else None
    if not annotations or not any(key in annotations for key in INJECT_CA_ANNOTATIONS):
        return
    for holder in ca_bundle_holders(obj, ObjectRef.of(obj)):
        holder.pop("caBundle", None)


def ca_bundle_holders(obj: dict[str, Any], ref: ObjectRef) -> list[dict[str, Any]]:
    """The dicts that hold a ``caBundle`` in the kinds cert-manager injects into."""
    key = (ref.group, ref.kind)
    spec = as_dict(obj.get("spec"))
    if key in WEBHOOK_CONFIGURATIONS:
        return [
            config
            for webhook in dicts(obj.get("webhooks"))
            if (config := as_dict(webhook.get("clientConfig"))) is not None
        ]
    if key == ("apiextensions.k8s.io", "CustomResourceDefinition") and spec is not None:
        conversion = as_dict(spec.get("conversion"))
        webhook = as_dict(conversion.get("webhook")) if conversion else None
        config = as_dict(webhook.get("clientConfig")) if webhook else None
        return [config] if config is not None else []
    if key == ("apiregistration.k8s.io", "APIService") and spec is not None:
        return [spec]
    return []


def drop_autoscaled_replicas(obj: dict[str, Any], ctx: RuleContext) -> None:
    if ctx.index.autoscaled and ctx.index.is_autoscaled(ObjectRef.of(obj)):
        spec = as_dict(obj.get("spec"))
        if spec is not None:
            spec.pop("replicas", None)


def strip_gitops_marks(obj: dict[str, Any], ctx: RuleContext) -> None:
    """``gitops_owned: strip-marks``: Flux's, Argo CD's and Helm's ownership marks go."""
    if ctx.settings.gitops_owned == "strip-marks":
        strip_marks(obj)


def apply_ignore_differences(obj: dict[str, Any], ctx: RuleContext) -> None:
    """The configuration's ``ignore_differences`` rules (last: they win over every other)."""
    if ctx.settings.ignore_differences and ctx.source is not None:
        apply_ignore_rules(obj, ctx.source, ctx.settings.ignore_differences)


def blind_choices(obj: Mapping[str, Any]) -> list[str]:
    """The fields of ``obj`` whose fate depends on ``managedFields`` when it has none (``kubectl
    get`` omits them unless ``--show-managed-fields``) and no last-applied record says who wrote
    them: a ``nodePort`` chosen by server-side apply is then dropped as allocated; a
    ``caBundle``, ``replicas`` or finalizer a controller wrote is then kept as a person's."""
    if has_managed_fields(obj) or last_applied(obj) is not None:
        return []
    ref = ObjectRef.of(obj)
    found: list[str] = []
    spec = obj.get("spec")
    ports = spec.get("ports") if isinstance(spec, Mapping) else None
    if (ref.group, ref.kind) == ("", "Service") and any(
        isinstance(port, Mapping) and "nodePort" in port
        for port in (ports if isinstance(ports, list) else [])
    ):
        found.append("nodePort")
    if any("caBundle" in holder for holder in ca_bundle_holders(dict(obj), ref)):
        found.append("caBundle")
    if (ref.group, ref.kind) in SCALED and isinstance(spec, Mapping) and "replicas" in spec:
        found.append("replicas")
    metadata = obj.get("metadata")
    finalizers = metadata.get("finalizers") if isinstance(metadata, Mapping) else None
    if isinstance(finalizers, list) and set(finalizers) - set(defaults.PROTECTION_FINALIZERS):
        found.append("finalizers")
    return found


SCALED: Final = frozenset({("apps", "Deployment"), ("apps", "StatefulSet"), ("apps", "ReplicaSet")})
