"""Who wrote a field: the field managers of ``metadata.managedFields``, told apart as the tools
people use and the controllers that write into objects people made.

Pure: no I/O; only the standard library and pydantic.

Every write to the API server is recorded per field (k8s.io/apimachinery
pkg/apis/meta/v1/types.go ``ManagedFieldsEntry``): the manager is the client's
``fieldManager``, or the first part of its user agent when it sends none
(k8s.io/apiserver pkg/endpoints/handlers/fieldmanager ``prefixFromUserAgent``: a binary named
``kube-controller-manager`` writes as ``kube-controller-manager``). A field owned **only** by
controllers is not a person's: an injected CA bundle, an autoscaled ``replicas``, a controller's
finalizer. Committed, it is either churn (the next injection or scale changes it again) or a
conflict waiting for the restore (the target's own injector owns that field there). A field a
person's tool also owns stays; so does any field of a manager this table does not know.

The tables name the source of each manager; ``FieldManagers`` (configuration:
``generator.cleaning.field_managers``) adds to them or overrides them.
"""

from collections.abc import Mapping
from fnmatch import fnmatchcase
from typing import Final

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

#: manager -> the source that names it. Controllers: their writes are not a person's.
CONTROLLERS: Final[Mapping[str, str]] = {
    "kube-controller-manager": "kubernetes/kubernetes cmd/kube-controller-manager: every built-in "
    "controller (the HPA's scale update of spec.replicas, the endpoint controller, the "
    "garbage collector) writes with this user agent",
    "clusterrole-aggregation-controller": "kubernetes/kubernetes pkg/controller/"
    "clusterroleaggregation: server-side applies an aggregated ClusterRole's rules under this "
    "manager (measured on v1.34.4)",
    "kube-scheduler": "kubernetes/kubernetes cmd/kube-scheduler (binding, nominated node)",
    "kubelet": "kubernetes/kubernetes cmd/kubelet (mirror pods, node status)",
    "kube-apiserver": "kubernetes/kubernetes pkg/controlplane: objects the API server keeps itself",
    "cainjector": "cert-manager pkg/controller/cainjector: server-side apply with force of the "
    "caBundle of webhooks, CRD conversion webhooks and APIServices",
    "cert-manager-cainjector": "cert-manager cmd/cainjector (user agent of older releases)",
    "kube-webhook-certgen": "kubernetes/ingress-nginx images/kube-webhook-certgen "
    "(jet/kube-webhook-certgen): an Update patching the webhook's caBundle",
    "webhook-cert-generator": "the same patcher under its image's binary name",
    "manager": "controller-runtime's default user agent is the binary name, and kubebuilder "
    "scaffolds it as `manager`: Gatekeeper's cert-controller rotator (open-policy-agent/"
    "cert-controller) injects the webhook caBundle under it, operators their finalizers",
    "gotk-kustomize-controller": "fluxcd/kustomize-controller: its own Kustomizations' "
    "finalizers (finalizers.fluxcd.io) and status, as gotk-<controller> (fluxcd/pkg runtime)",
    "gotk-helm-controller": "fluxcd/helm-controller: its HelmReleases' finalizers and status",
    "gotk-source-controller": "fluxcd/source-controller: its sources' finalizers and status",
    "gotk-notification-controller": "fluxcd/notification-controller: finalizers and status",
    "gotk-image-reflector-controller": "fluxcd/image-reflector-controller: finalizers, status",
    "gotk-image-automation-controller": "fluxcd/image-automation-controller: finalizers, status",
    "argocd-application-controller": "argoproj/argo-cd cmd/argocd-application-controller: "
    "an Application's operation state and finalizers (its syncs apply as argocd-controller)",
}

#: manager (or ``prefix*``) -> the source that names it. Tools people use: what they write stays.
PEOPLE: Final[Mapping[str, str]] = {
    "kubectl": "kubernetes/kubectl: kubectl apply --server-side (fieldManager kubectl)",
    "kubectl-*": "kubernetes/kubectl: kubectl-client-side-apply, kubectl-create, kubectl-edit, "
    "kubectl-patch, kubectl-replace, kubectl-annotate, kubectl-label, kubectl-set, ... "
    "(pkg/cmd/*: FieldManager kubectl-<command>)",
    "before-first-apply": "k8s.io/apimachinery fieldmanager: what client-side apply owned, "
    "upgraded to server-side apply",
    "kustomize-controller": "fluxcd/kustomize-controller: applies a Kustomization's manifests "
    "(server-side apply, the manifests people wrote)",
    "helm-controller": "fluxcd/helm-controller: installs a HelmRelease's chart",
    "argocd-controller": "argoproj/argo-cd: an Application's sync with ServerSideApply=true",
    "helm": "helm/helm pkg/kube: install and upgrade",
    "Helm": "helm/helm (older releases' user agent)",
    "terraform": "hashicorp/terraform-provider-kubernetes (kubernetes_manifest)",
    "Terraform": "hashicorp/terraform-provider-kubernetes (field_manager default)",
    "pulumi-kubernetes": "pulumi/pulumi-kubernetes",
}


class FieldManagers(BaseModel):
    """Additions to the built-in tables of field managers (``field_managers``).

    ``people`` wins over ``controllers``, and both over the built-in tables: naming a built-in
    controller under ``people`` keeps what it writes. Entries are names or globs (``my-op-*``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    controllers: list[str] = Field(
        default=[],
        description="managers whose fields are not a person's (added to the built-in table: "
        "cainjector, kube-controller-manager, kube-webhook-certgen, manager, gotk-*, ...)",
    )
    people: list[str] = Field(
        default=[],
        description="managers whose fields are a person's (added to the built-in table: "
        "kubectl*, helm, kustomize-controller, argocd-controller, terraform, ...); wins over "
        "controllers",
    )

    _verdicts: dict[str, bool] = PrivateAttr(default_factory=dict)

    def is_controller(self, manager: str) -> bool:
        """True when ``manager`` is a controller's identity (unknown managers are people's)."""
        # the private attribute read from pydantic's own dict: ``self._verdicts`` goes through
        # ``BaseModel.__getattr__`` (1.3 us; this is asked for every object's every manager)
        private = self.__pydantic_private__
        verdicts: dict[str, bool] | None = private.get("_verdicts") if private else None
        if verdicts is None:  # not set up as pydantic does it: the attribute's own way
            verdicts = self._verdicts
        verdict = verdicts.get(manager)
        if verdict is None:
            verdict = verdicts[manager] = self._classify(manager)
        return verdict

    def _classify(self, manager: str) -> bool:
        if _matches(manager, self.people):
            return False
        if _matches(manager, self.controllers):
            return True
        if _matches(manager, PEOPLE):
            return False
        return manager in CONTROLLERS


DEFAULT_FIELD_MANAGERS: Final = FieldManagers.model_construct()  # not validated: built when used


def _matches(manager: str, patterns: Mapping[str, str] | list[str]) -> bool:
    return any(fnmatchcase(manager, pattern) for pattern in patterns)
