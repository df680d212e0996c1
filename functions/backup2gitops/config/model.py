"""The configuration model's root: ``Config``, the whole file, its sections and the rules
across them (the Flux / Argo CD entry points need a URL they can clone), and ``http``, the
request limits every function's edge shares.

The sections are where each part of the file is described: ``config.storage`` (storage,
clusters, archive limits), ``config.backups`` (backup-complete, cluster-backup, backups),
``config.git``,
``config.generator`` (cleaning, transforms, sops, units), ``config.monitoring`` (health,
alerts); ``drift`` is ``core.drift.DriftPolicy`` itself. Unknown keys anywhere are errors,
enumerations are strict, transforms and receiver types must be installed, and cross-field
rules (sops needs recipients and a digest key, review mode needs its project) hold. Reading
the file, ``${VAR}`` expansion and overrides are ``backup2gitops.config.loader``'s.
"""

import re
from functools import cache
from typing import Any

from pydantic import BaseModel, Field, ValidationError, create_model, model_validator

from backup2gitops.config.backups import BackupCompleteConfig, BackupsConfig, ClusterBackupConfig
from backup2gitops.config.generator import GeneratorConfig
from backup2gitops.config.git import GitConfig
from backup2gitops.config.monitoring import AlertsConfig, HealthConfig, RouteConfig
from backup2gitops.config.storage import ArchiveLimitsConfig, ClusterSource, StorageConfig
from backup2gitops.config.types import FieldProblem, Strict
from backup2gitops.core import units
from backup2gitops.core.drift import DriftPolicy
from backup2gitops.core.model_defaults import empty_list
from backup2gitops.core.retention_plan import KeepPolicy


class HttpConfig(Strict):
    max_body_bytes: int = Field(
        default=1024 * 1024, ge=1024, description="larger request bodies are answered 413 unread"
    )
    header_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        description="a request whose headers are not all in by then (from the connection, or "
        "the end of the previous request) is answered 408 and closed",
    )
    body_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        description="a body not all in this long after its headers is answered 408 and closed",
    )


class Config(Strict):
    http: HttpConfig = HttpConfig.model_construct()
    storage: StorageConfig = StorageConfig.model_construct()
    archive_limits: ArchiveLimitsConfig = ArchiveLimitsConfig.model_construct()
    clusters: list[ClusterSource] = Field(default_factory=empty_list)
    backups: BackupsConfig = BackupsConfig.model_construct()
    git: GitConfig = GitConfig.model_construct()
    generator: GeneratorConfig = GeneratorConfig.model_construct()
    backup_complete: BackupCompleteConfig = BackupCompleteConfig.model_construct()
    cluster_backup: ClusterBackupConfig = ClusterBackupConfig.model_construct()
    health: HealthConfig = HealthConfig.model_construct()
    alerts: AlertsConfig = AlertsConfig.model_construct()
    drift: DriftPolicy = Field(
        default_factory=DriftPolicy.model_construct,
        description="sensitive changes between commits (gitops.drifted) and their alerts",
    )

    @classmethod
    def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """The JSON schema, with every section's model built first: a default is written
        into the schema by its own model's serializer, which a deferred model has not made."""
        for model in _models(Strict) | _models(RouteConfig):
            model.model_rebuild()
        return super().model_json_schema(*args, **kwargs)

    def keep_for(self, cluster: str) -> KeepPolicy:
        """``clusters[].keep`` of ``cluster`` when set, else ``backups.keep``."""
        source = next((c for c in self.clusters if c.name == cluster), None)
        return source.keep if source is not None and source.keep is not None else self.backups.keep

    def velero_prefixes(self) -> list[str]:
        """Every configured ``clusters[].velero_prefix`` (locations Velero owns)."""
        return [c.velero_prefix for c in self.clusters if c.velero_prefix is not None]

    @model_validator(mode="after")
    def _across_sections(self) -> "Config":
        self._entry_points_have_a_source()
        return self

    def _entry_points_have_a_source(self) -> None:
        wanted = self.generator.units
        if not (wanted.flux.enabled and wanted.flux.create_source) and wanted.argocd.mode == "none":
            return
        url = wanted.repo_url or self.git.url
        if not re.match(r"^(https?|ssh)://|^[A-Za-z0-9._-]+@[^/:]+:", url):
            where = "units.repo_url" if wanted.repo_url else "git.url"
            raise FieldProblem(
                "generator",
                "units",
                "repo_url",
                message=f"the Flux / Argo CD entry points need a URL they can clone ({where} "
                "is not http(s)://, ssh:// or user@host:path)",
            )

    def layout(self) -> units.Layout:
        """The units and entry points ``generator.units`` asks for (``core.units.Layout``)."""
        wanted = self.generator.units
        flux = argocd = source = None
        if wanted.flux.enabled or wanted.argocd.mode != "none":
            source = units.Source(
                url=wanted.repo_url or self.git.url, branch=wanted.branch or self.git.branch
            )
        if wanted.flux.enabled:
            flux = units.FluxSettings(
                namespace=wanted.flux.namespace,
                interval=wanted.flux.interval,
                prune=wanted.flux.prune,
                source_name=wanted.flux.source_name,
                create_source=wanted.flux.create_source,
                source_secret=wanted.flux.source_secret,
                decryption_secret=(
                    wanted.flux.decryption_secret
                    if self.generator.cleaning.secrets == "sops"
                    else None
                ),
            )
        if wanted.argocd.mode != "none":
            argocd = units.ArgoSettings(
                mode=wanted.argocd.mode,
                namespace=wanted.argocd.namespace,
                project=wanted.argocd.project,
                destination_server=wanted.argocd.destination_server,
                prune=wanted.argocd.prune,
                self_heal=wanted.argocd.self_heal,
            )
        return units.Layout(
            by=wanted.by, split_over=wanted.split_over, source=source, flux=flux, argocd=argocd
        )


def validate_config(raw: dict[str, Any]) -> Config:
    """``Config.model_validate(raw)``, building only the sections ``raw`` holds.

    A model of those fields alone (the same field definitions, in the same order, extra keys
    refused) validates them, with the errors, locations and order ``Config`` gives; the others
    are their defaults, as in ``Config``; then the rule across sections runs, and its error is
    the one ``Config``'s validator would raise. A ``generate`` whose configuration sets
    ``git`` alone builds ``git``'s models, not the forty others (tests/unit/test_config.py
    holds this to ``Config.model_validate`` on valid and invalid files).
    """
    sections = _sections_model(frozenset(Config.model_fields.keys() & raw.keys())).model_validate(
        raw
    )
    config = Config.model_construct(
        _fields_set=sections.model_fields_set,
        **{name: getattr(sections, name) for name in type(sections).model_fields},
    )
    try:
        config._entry_points_have_a_source()
    except ValueError as exc:  # what pydantic makes of an error in a model validator
        raise ValidationError.from_exception_data(
            Config.__name__,
            [{"type": "value_error", "loc": (), "input": raw, "ctx": {"error": exc}}],
        ) from None
    return config


@cache
def _sections_model(names: frozenset[str]) -> type[BaseModel]:
    """A model of ``Config``'s fields in ``names``, as ``Config`` defines them (cached per set)."""
    fields: dict[str, Any] = {
        name: (info.annotation, info) for name, info in Config.model_fields.items() if name in names
    }
    return create_model(Config.__name__, __base__=Strict, **fields)


def _models(root: type[BaseModel]) -> set[type[BaseModel]]:
    """``root`` and its subclasses, at any depth."""
    found = {root}
    for sub in root.__subclasses__():
        found |= _models(sub)
    return found
