"""The configuration of gitops-generator (``generator``): the cleaning policy, transforms, sops,
the guards' thresholds, and how each cluster's folder is cut into units with their Flux and
Argo CD entry points (``generator.units``).

One strict section per part of the file; the root ``Config`` is ``config.model``'s.
"""

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from backup2gitops import transforms as installed_transforms
from backup2gitops.config.types import FieldProblem, PlainUrl, SecretRef, Strict
from backup2gitops.core import units
from backup2gitops.core.cleaning.settings import CleaningSettings, as_settings
from backup2gitops.core.model_defaults import empty_list

_DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
_DNS_LABEL = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"


class FluxConfig(Strict):
    """A Flux ``Kustomization`` per unit, in ``clusters/<cluster>/flux/`` (``core.units``)."""

    enabled: bool = Field(
        default=False,
        description="write clusters/<cluster>/flux/: a Kustomization per unit (+ GitRepository)",
    )
    namespace: str = Field(
        default="flux-system", pattern=_DNS_LABEL, description="where the Flux objects live"
    )
    interval: str = Field(
        default="10m",
        pattern=r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$",
        description="how often Flux reconciles (Go duration, as the Flux CRDs require)",
    )
    prune: bool = True
    source_name: str = Field(
        default="backup2gitops",
        max_length=253,
        pattern=_DNS_SUBDOMAIN,
        description="the GitRepository the Kustomizations read",
    )
    create_source: bool = Field(
        default=True,
        description="write that GitRepository (units.repo_url, units.branch); false: refer to "
        "an existing one (flux bootstrap's flux-system)",
    )
    source_secret: str | None = Field(
        default=None,
        pattern=_DNS_SUBDOMAIN,
        description="name of the Secret with Flux's git credentials (a name, not a credential)",
    )
    decryption_secret: str = Field(
        default="sops-age",
        pattern=_DNS_SUBDOMAIN,
        description="name of the Secret with the age private key (cleaning.secrets: sops)",
    )


class ArgoCdConfig(Strict):
    """An Argo CD ``ApplicationSet`` over the units, or an ``Application`` per unit."""

    mode: Literal["none", "applicationset", "applications"] = Field(
        default="none",
        description="applicationset: one, with git directory generators; applications: one per "
        "unit, the cluster-scoped one in sync wave -1 (for an app of apps)",
    )
    namespace: str = Field(
        default="argocd", pattern=_DNS_LABEL, description="where Argo CD's objects live"
    )
    project: str = "default"
    destination_server: PlainUrl = Field(
        default="https://kubernetes.default.svc", description="the cluster the units apply to"
    )
    prune: bool = True
    self_heal: bool = Field(
        default=False,
        description="revert changes made on the cluster at once; off: the repository is written "
        "from that cluster, and a hand change is what its next backup records (docs/"
        "decisions.md, Reconcilable units)",
    )


class UnitsConfig(Strict):
    """How each cluster's folder is cut into units that build on their own (``core.units``)."""

    by: Literal["namespace", "cluster"] = Field(
        default="namespace",
        description="namespace: one unit per namespace + one for cluster-scoped objects; "
        "cluster: the cluster's folder is the one unit",
    )
    split_over: int | None = Field(
        default=units.DEFAULT_SPLIT_OVER,
        ge=1,
        description="a unit (a namespace, the cluster-scoped objects) with more objects than this "
        "is cut into one unit per resource folder, paths unchanged; null: never",
    )
    repo_url: PlainUrl | None = Field(
        default=None,
        description="the URL Flux and Argo CD read the repository from (default: git.url); "
        "https:// or ssh, never with credentials",
    )
    branch: str | None = Field(default=None, description="their branch (default: git.branch)")
    flux: FluxConfig = FluxConfig.model_construct()
    argocd: ArgoCdConfig = ArgoCdConfig.model_construct()


_AGE_RECIPIENT = r"^age1[0-9a-z]{20,}$"
"""An age recipient: X25519 (``age1`` + 58 bech32 characters), post-quantum (``age1pq1...``) or
a plug-in's (``age1yubikey1...``); lower-case bech32, so never a comma (sops joins them with one)."""


class GeneratorConfig(Strict):
    cleaning: CleaningSettings = Field(
        default_factory=CleaningSettings.model_construct,
        description="which objects go to git and how Secrets are treated (core.cleaning)",
    )
    transforms: list[str] = Field(
        default_factory=empty_list,
        description="entry points of group backup2gitops.transforms to run",
    )
    sops_age_recipients: list[str] = Field(
        default_factory=empty_list,
        description="age public keys (age1...) Secrets are encrypted for; cleaning.secrets: sops",
    )
    sops_digest_key: SecretRef | None = Field(
        default=None,
        description="HMAC-SHA256 key (32 bytes or more, {env: NAME} or {file: PATH}) of the "
        "digest kept beside each encrypted Secret: an unchanged Secret keeps its committed "
        "ciphertext; required when cleaning.secrets is sops",
    )
    record_unchanged: bool = Field(
        default=True,
        description="commit a backup that changes nothing as an empty commit with its trailers, "
        "so the branch says which backup it reflects (GitOps lag stays measurable)",
    )
    retry_window_s: float = Field(
        default=120,
        ge=0,
        description="a storage or git outage within this many seconds of the event's time is a "
        "503 (the Broker retries: 6 times over ~63 s); later it becomes gitops.failed "
        "(retryable: true), so the alert-router hears of it before the event is dead-lettered",
    )
    max_deletion_share: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="a commit removing more than this share of a cluster's objects fails "
        "(gitops.failed mass_deletion) unless the backup is confirmed complete by both counts",
    )
    units: UnitsConfig = Field(
        default_factory=UnitsConfig.model_construct,
        description="reconcilable units of each cluster's folder and Flux / Argo CD entry points",
    )

    @field_validator("transforms")
    @classmethod
    def _installed(cls, names: list[str]) -> list[str]:
        if not names:  # nothing to check: no scan of every distribution's entry points
            return names
        installed = installed_transforms.installed()
        for index, name in enumerate(names):
            if name not in installed:
                raise FieldProblem(
                    index,
                    message=f"unknown transform {name!r} (entry points of "
                    f"{installed_transforms.GROUP}: {', '.join(sorted(installed)) or 'none'})",
                )
            try:
                installed_transforms.load_transforms([name])
            except Exception as exc:  # a broken plug-in fails here, not on every backup
                raise FieldProblem(
                    index, message=f"transform {name!r} does not load ({type(exc).__name__}: {exc})"
                ) from exc
        return names

    @field_validator("sops_age_recipients")
    @classmethod
    def _age_keys(cls, recipients: list[str]) -> list[str]:
        for index, recipient in enumerate(recipients):
            if not re.match(_AGE_RECIPIENT, recipient):
                raise FieldProblem(index, message="not an age public key (age1...)")
        return recipients

    @property
    def encrypts(self) -> bool:
        """Whether Secrets are encrypted with sops (``cleaning.secrets: sops``)."""
        return self.cleaning.secrets == "sops"

    @field_validator("cleaning", mode="before")
    @classmethod
    def _settings(cls, value: object) -> object:
        return as_settings(value)  # a plain CleaningPolicy gets the settings' defaults

    @model_validator(mode="after")
    def _sops_has_recipients(self) -> "GeneratorConfig":
        if self.encrypts and not self.sops_age_recipients:
            raise FieldProblem(
                "sops_age_recipients",
                message="required when cleaning.secrets is sops (age public keys, age1...)",
            )
        if self.encrypts and self.sops_digest_key is None:
            # Refused rather than falling back to re-encrypting: without it every backup
            # rewrites every Secret's ciphertext, which buries real changes in review.
            raise FieldProblem(
                "sops_digest_key",
                message="required when cleaning.secrets is sops ({env: NAME} or {file: PATH} "
                "of a key of 32 bytes or more: unchanged Secrets keep their ciphertext)",
            )
        return self
