"""Configuration: one YAML file, ``${VAR}`` expansion, environment overrides, defaults, validation.

- ``model``: the sections (``Config`` and one strict model per part of the file);
- ``loader``: reading the file, ``${VAR}`` expansion, ``BACKUP2GITOPS__...`` overrides, errors
  that name their field (``ConfigError``);
- ``receivers``: ``alerts.receivers[]``, one model per receiver type;
- ``types``: the building blocks (strict sections, secret references, clean URLs).

Callers import from ``backup2gitops.config``; the modules are where each part is read.
"""

from backup2gitops.config.loader import (
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
from backup2gitops.config.model import (
    AlertsConfig,
    ArchiveLimitsConfig,
    ArgoCdConfig,
    BackupCompleteConfig,
    BackupsConfig,
    ClusterBackupConfig,
    ClusterSource,
    Config,
    FluxConfig,
    GeneratorConfig,
    GitConfig,
    HealthConfig,
    HttpConfig,
    IdempotencyConfig,
    ReviewConfig,
    RouteConfig,
    StorageConfig,
    UnitsConfig,
)
from backup2gitops.config.receivers import ReceiverConfig
from backup2gitops.config.types import SecretRef

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
