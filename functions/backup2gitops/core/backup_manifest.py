"""The native backup's ``manifest.json``: what a backup holds; written LAST, it marks completion.

PURE: no I/O. ``dump_manifest`` and ``parse_manifest`` turn the model into bytes and back; the
storage adapter moves the bytes.

Compatibility: ``format_version`` names the contract. A reader accepts only the versions in
``SUPPORTED_FORMAT_VERSIONS``; a change that an older reader would misread bumps it. Fields that a
newer writer adds without bumping it are ignored (``extra="ignore"``), so an older reader still
reads a newer manifest -- the same rule Kubernetes clients follow for unknown fields. Readers
never write a manifest back, so dropping unknown fields loses nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from backup2gitops.core import bucket_layout
from backup2gitops.core.errors import Backup2GitopsError

__all__ = [
    "CURRENT_FORMAT_VERSION",
    "SUPPORTED_FORMAT_VERSIONS",
    "ArchiveRef",
    "BackupManifest",
    "ManifestError",
    "dump_manifest",
    "parse_manifest",
]

CURRENT_FORMAT_VERSION = "1"
SUPPORTED_FORMAT_VERSIONS = frozenset({"1"})

_RELATIVE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")

ManifestErrorCode = Literal["invalid_json", "invalid_manifest", "unsupported_version"]


class ManifestError(Backup2GitopsError, ValueError):
    """A manifest that cannot be read: ``code`` is one of ``ManifestErrorCode``."""

    def __init__(self, code: ManifestErrorCode, message: str) -> None:
        super().__init__(message, code=code)
        self.args = (f"{code}: {message}",)
        self.code: ManifestErrorCode = code


class ArchiveRef(BaseModel):
    """The tarball beside the manifest."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    key: str = Field(description="name relative to the backup's folder, e.g. resources.tar.gz")
    size: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")

    @model_validator(mode="after")
    def _relative(self) -> ArchiveRef:
        if _RELATIVE_NAME.fullmatch(self.key) is None or ".." in self.key:
            raise ValueError(f"archive key {self.key!r} must be a plain file name")
        return self


class BackupManifest(BaseModel):
    """``backups/<cluster>/<backup-id>/manifest.json``."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    format_version: str = CURRENT_FORMAT_VERSION
    backup_id: str = Field(min_length=1, max_length=253)
    cluster: str = Field(min_length=1, max_length=253)
    kubernetes_version: str | None = None
    started_at: AwareDatetime
    finished_at: AwareDatetime
    resource_counts: dict[str, int] = Field(
        default_factory=dict, description="group_resource (resource[.group]) -> object count"
    )
    archive: ArchiveRef
    warnings: list[str] = Field(default_factory=list)
    created_by: str = "backup2gitops"

    @field_validator("backup_id", "cluster")
    @classmethod
    def _key_safe(cls, value: str) -> str:
        return bucket_layout.validate_name(value)

    @model_validator(mode="after")
    def _consistent(self) -> BackupManifest:
        if self.format_version not in SUPPORTED_FORMAT_VERSIONS:
            raise ValueError(f"unsupported format_version {self.format_version!r}")
        if self.finished_at < self.started_at:
            raise ValueError("finished_at is before started_at")
        negative = sorted(gr for gr, count in self.resource_counts.items() if count < 0)
        if negative:
            raise ValueError(f"negative resource counts: {', '.join(negative)}")
        return self

    @property
    def resource_count(self) -> int:
        """All objects in the backup."""
        return sum(self.resource_counts.values())

    @property
    def duration_s(self) -> float:
        return (self.finished_at - self.started_at).total_seconds()


def dump_manifest(manifest: BackupManifest) -> bytes:
    """Stable, indented JSON (field order of the model, counts sorted) with a final newline."""
    data = manifest.model_dump(mode="json")
    data["resource_counts"] = dict(sorted(manifest.resource_counts.items()))
    return (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode()


def parse_manifest(data: bytes | str) -> BackupManifest:
    """Parse and validate; raise ``ManifestError`` naming what is wrong."""
    try:
        return BackupManifest.model_validate_json(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        if any(error["type"] == "json_invalid" for error in errors):
            raise ManifestError("invalid_json", str(errors[0]["msg"])) from exc
        if any("unsupported format_version" in str(error["msg"]) for error in errors):
            raise ManifestError("unsupported_version", _describe(errors)) from exc
        raise ManifestError("invalid_manifest", _describe(errors)) from exc


def _describe(errors: Sequence[ErrorDetails]) -> str:
    return "; ".join(
        f"{'.'.join(str(part) for part in error['loc']) or '<root>'}: {error['msg']}"
        for error in errors
    )
