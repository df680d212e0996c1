import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from backup2gitops.core.backup_manifest import (
    SUPPORTED_FORMAT_VERSIONS,
    ArchiveRef,
    BackupManifest,
    ManifestError,
    dump_manifest,
    parse_manifest,
)

SHA = "a" * 64
START = datetime(2026, 11, 23, 4, 45, 1, tzinfo=UTC)


def _manifest(**overrides: Any) -> BackupManifest:
    fields: dict[str, Any] = {
        "backup_id": "20261123t044501z",
        "cluster": "prod-eu",
        "kubernetes_version": "v1.31.4",
        "started_at": START,
        "finished_at": START + timedelta(seconds=42),
        "resource_counts": {"deployments.apps": 3, "configmaps": 5},
        "archive": ArchiveRef(key="resources.tar.gz", size=1234, sha256=SHA),
        "warnings": ["discovery: metrics.k8s.io/v1beta1 unavailable"],
    }
    fields.update(overrides)
    return BackupManifest(**fields)


def _json(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(dump_manifest(_manifest()))
    data.update(overrides)
    return data


def test_round_trip() -> None:
    manifest = _manifest()
    raw = dump_manifest(manifest)
    assert raw.endswith(b"\n")
    assert parse_manifest(raw) == manifest
    assert parse_manifest(raw.decode()) == manifest
    assert manifest.resource_count == 8
    assert manifest.duration_s == 42
    assert manifest.format_version == "1" and "1" in SUPPORTED_FORMAT_VERSIONS
    assert manifest.created_by == "backup2gitops"


def test_dump_is_stable() -> None:
    one = _manifest(resource_counts={"b": 1, "a": 2})
    two = _manifest(resource_counts={"a": 2, "b": 1})
    assert dump_manifest(one) == dump_manifest(two)
    assert list(json.loads(dump_manifest(one))["resource_counts"]) == ["a", "b"]


def test_unknown_fields_are_ignored_for_forward_compatibility() -> None:
    data = _json(added_in_a_later_minor="x")
    data["archive"]["compression"] = "zstd-someday"
    assert parse_manifest(json.dumps(data)) == _manifest()


def test_unsupported_version() -> None:
    with pytest.raises(ManifestError) as caught:
        parse_manifest(json.dumps(_json(format_version="2")))
    assert caught.value.code == "unsupported_version"


def test_invalid_json() -> None:
    with pytest.raises(ManifestError) as caught:
        parse_manifest(b"{not json")
    assert caught.value.code == "invalid_json"


@pytest.mark.parametrize(
    "overrides",
    [
        {"finished_at": "2026-11-23T04:00:00Z"},
        {"started_at": "2026-11-23T04:45:01"},  # naive time
        {"resource_counts": {"pods": -1}},
        {"archive": {"key": "resources.tar.gz", "size": 1, "sha256": "ABC"}},
        {"archive": {"key": "../other/resources.tar.gz", "size": 1, "sha256": SHA}},
        {"archive": {"key": "resources.tar.gz", "size": -1, "sha256": SHA}},
        {"backup_id": ""},
        {"cluster": "../etc"},
        {"cluster": "Prod"},
    ],
)
def test_invalid_manifest(overrides: dict[str, Any]) -> None:
    with pytest.raises(ManifestError) as caught:
        parse_manifest(json.dumps(_json(**overrides)))
    assert caught.value.code == "invalid_manifest"
    assert caught.value.message


def test_missing_field_is_named() -> None:
    data = _json()
    del data["cluster"]
    with pytest.raises(ManifestError, match="cluster"):
        parse_manifest(json.dumps(data))
