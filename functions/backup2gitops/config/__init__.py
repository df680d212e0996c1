"""Configuration: one YAML file, ``${VAR}`` expansion, environment overrides, defaults, validation.

- ``model``: the root ``Config`` (the whole file, the rules across its sections) and ``http``;
- the sections, one strict model per part of the file: ``storage`` (storage, clusters, archive
  limits), ``backups`` (backup-complete, cluster-backup, backups), ``git``, ``generator``
  (cleaning, transforms, sops, units), ``monitoring`` (health, alerts);
- ``loader``: reading the file, ``${VAR}`` expansion, ``BACKUP2GITOPS__...`` overrides, errors
  that name their field (``ConfigError``);
- ``receivers``: ``alerts.receivers[]``, one model per receiver type;
- ``types``: the building blocks (strict sections, secret references, clean URLs).

Callers import from ``backup2gitops.config``; the modules are where each part is read.

The loader's names come with the package (it imports no model until it parses); the models'
are loaded when first used (PEP 562 ``__getattr__``, as pydantic and Powertools do for theirs):
a function's module imports ``ConfigError`` or ``load_config`` without building the models,
which pydantic builds with their core modules (cleaning, drift, archive, units) when a
configuration is first loaded, or a model first named. Each section's validator is built when
first used: a file is validated section by section (``model.validate_config``, the errors
``Config`` gives), so a file that sets ``git`` alone builds ``git``'s models only.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from backup2gitops.config.loader import (  # no model: the loader imports it to parse
    CONFIG_ENV,
    ENV_PREFIX,
    PACKAGED_CONFIG,
    ConfigError,
    config_file,
    describe_error,
    expand_variables,
    load_config,
    parse_config,
)

if TYPE_CHECKING:
    from backup2gitops.config.backups import (
        BackupCompleteConfig,
        BackupsConfig,
        ClusterBackupConfig,
    )
    from backup2gitops.config.generator import (
        ArgoCdConfig,
        FluxConfig,
        GeneratorConfig,
        UnitsConfig,
    )
    from backup2gitops.config.git import GitConfig, ReviewConfig
    from backup2gitops.config.model import Config, HttpConfig
    from backup2gitops.config.monitoring import (
        AlertsConfig,
        HealthConfig,
        IdempotencyConfig,
        RouteConfig,
    )
    from backup2gitops.config.receivers import ReceiverConfig
    from backup2gitops.config.storage import ArchiveLimitsConfig, ClusterSource, StorageConfig
    from backup2gitops.config.types import SecretRef

_MODULE_OF = {
    "BackupCompleteConfig": "backups",
    "BackupsConfig": "backups",
    "ClusterBackupConfig": "backups",
    "ArgoCdConfig": "generator",
    "FluxConfig": "generator",
    "GeneratorConfig": "generator",
    "UnitsConfig": "generator",
    "GitConfig": "git",
    "ReviewConfig": "git",
    "AlertsConfig": "monitoring",
    "HealthConfig": "monitoring",
    "IdempotencyConfig": "monitoring",
    "RouteConfig": "monitoring",
    "ReceiverConfig": "receivers",
    "ArchiveLimitsConfig": "storage",
    "ClusterSource": "storage",
    "StorageConfig": "storage",
    "SecretRef": "types",
}
"""Where a lazily loaded name lives; any other (``Config``, ``HttpConfig``) is ``model``'s."""


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module(f"{__name__}.{_MODULE_OF.get(name, 'model')}")
    value = getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


__all__ = [
    "CONFIG_ENV",
    "ENV_PREFIX",
    "PACKAGED_CONFIG",
    "AlertsConfig",
    "ArchiveLimitsConfig",
    "ArgoCdConfig",
    "BackupCompleteConfig",
    "BackupsConfig",
    "ClusterBackupConfig",
    "ClusterSource",
    "Config",
    "ConfigError",
    "FluxConfig",
    "GeneratorConfig",
    "GitConfig",
    "HealthConfig",
    "HttpConfig",
    "IdempotencyConfig",
    "ReceiverConfig",
    "ReviewConfig",
    "RouteConfig",
    "SecretRef",
    "StorageConfig",
    "UnitsConfig",
    "config_file",
    "describe_error",
    "expand_variables",
    "load_config",
    "parse_config",
]
