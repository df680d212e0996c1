from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from backup2gitops.core import bucket_layout
from backup2gitops.core.bucket_layout import BackupKey, LayoutError, parse_key


def test_native_keys_compose() -> None:
    assert (
        bucket_layout.native_archive_key(prefix="", cluster="prod-eu", backup_id="20261123t044501z")
        == "backups/prod-eu/20261123t044501z/resources.tar.gz"
    )
    assert (
        bucket_layout.native_manifest_key(prefix="/team-a/dr/", cluster="c1", backup_id="b1")
        == "team-a/dr/backups/c1/b1/manifest.json"
    )
    assert (
        bucket_layout.native_backup_dir(prefix="x", cluster="c", backup_id="b") == "x/backups/c/b/"
    )


@pytest.mark.parametrize("prefix", ["", "team-a", "a/b/c"])
@pytest.mark.parametrize("role", ["archive", "manifest"])
def test_native_round_trip(prefix: str, role: str) -> None:
    compose = (
        bucket_layout.native_archive_key if role == "archive" else bucket_layout.native_manifest_key
    )
    key = compose(prefix=prefix, cluster="prod-eu-1", backup_id="20261123t044501z")
    assert parse_key(key) == BackupKey(
        format="native",
        role=role,
        cluster="prod-eu-1",
        backup_id="20261123t044501z",
        prefix=prefix,
    )


@pytest.mark.parametrize("prefix", ["", "velero", "a/b"])
def test_velero_round_trip(prefix: str) -> None:
    json_key = bucket_layout.velero_backup_json_key(prefix=prefix, name="daily-20261123")
    tar_key = bucket_layout.velero_archive_key(prefix=prefix, name="daily-20261123")
    assert tar_key.endswith("backups/daily-20261123/daily-20261123.tar.gz")
    parsed_json = parse_key(json_key, velero_prefixes=[prefix])
    parsed_tar = parse_key(tar_key, velero_prefixes=[prefix])
    assert parsed_json == BackupKey(
        format="velero",
        role="velero_json",
        cluster=None,
        backup_id="daily-20261123",
        prefix=prefix,
    )
    assert parsed_tar is not None and parsed_tar.role == "archive"
    logs = parse_key(
        json_key.replace("velero-backup.json", "daily-20261123-logs.gz"), velero_prefixes=[prefix]
    )
    assert logs is not None and logs.role == "other" and logs.format == "velero"


def test_velero_needs_configured_prefix() -> None:
    assert parse_key("velero/backups/b1/velero-backup.json") is None
    assert parse_key("velero/backups/b1/velero-backup.json", velero_prefixes=["velero/"]) == (
        BackupKey(
            format="velero", role="velero_json", cluster=None, backup_id="b1", prefix="velero"
        )
    )


def test_native_other_file_and_unrelated_keys() -> None:
    other = parse_key("backups/c1/b1/notes.txt")
    assert other is not None and other.role == "other" and other.format == "native"
    assert parse_key("README.md") is None
    velero_other = parse_key("backups/c1/manifest.json")  # Velero's shape at the root
    assert velero_other is not None and velero_other.format == "velero"
    assert velero_other.role == "other"
    assert parse_key("backups/c1/manifest.json", velero_prefixes=[]) is None
    assert parse_key("restores/r1/restore-r1-logs.gz") is None
    assert parse_key("other/c1/b1/manifest.json") is None


def test_ambiguous_key_goes_to_configured_velero_prefix() -> None:
    key = "backups/backups/b1/velero-backup.json"
    native = parse_key(key)
    assert native is not None and native.format == "native" and native.cluster == "backups"
    velero = parse_key(key, velero_prefixes=["backups"])
    assert velero is not None and velero.format == "velero" and velero.prefix == "backups"


@pytest.mark.parametrize(
    "key",
    [
        "",
        "/backups/c1/b1/manifest.json",
        "backups/../b1/x/manifest.json",
        "backups/c1/../manifest.json",
        "backups/c1//manifest.json",
        "backups//b1/manifest.json",
        "backups/./c1/b1/manifest.json",
        "backups\\c1\\b1\\manifest.json",
        "backups/c1/b1\x00/manifest.json",
        "backups/C1/b1/manifest.json",
        "backups/c1/-b1/manifest.json",
        "backups/c1/b1./manifest.json",
        "backups/c1/a..b/manifest.json",
        "backups/" + "a" * 254 + "/b1/manifest.json",
        "bad prefix/backups/c1/b1/manifest.json",
        "backups/../velero-backup.json",
    ],
)
def test_hostile_keys_are_not_backups(key: str) -> None:
    assert parse_key(key) is None
    assert parse_key(key, velero_prefixes=["", "backups"]) is None


@pytest.mark.parametrize(
    ("cluster", "backup_id", "prefix"),
    [
        ("..", "b", ""),
        ("a/b", "b", ""),
        ("c", "", ""),
        ("UPPER", "b", ""),
        ("c", "b", "../x"),
        ("c", "b", "a//b"),
        ("a" * 254, "b", ""),
    ],
)
def test_compose_rejects_bad_names(cluster: str, backup_id: str, prefix: str) -> None:
    with pytest.raises(LayoutError):
        bucket_layout.native_archive_key(prefix=prefix, cluster=cluster, backup_id=backup_id)


def test_max_length_names_accepted() -> None:
    key = bucket_layout.native_manifest_key(prefix="", cluster="c" * 63, backup_id="b" * 253)
    assert parse_key(key) is not None


@pytest.mark.parametrize("cluster", ["prod.eu", "c" * 64, "Prod", "prod\n", "-prod"])
def test_cluster_names_are_dns1123_labels(cluster: str) -> None:
    with pytest.raises(bucket_layout.LayoutError):
        bucket_layout.native_manifest_key(prefix="", cluster=cluster, backup_id="b")
    assert parse_key(f"backups/{cluster}/b/manifest.json") is None


def test_new_backup_id() -> None:
    when = datetime(2026, 11, 23, 5, 45, 1, tzinfo=timezone(timedelta(hours=1)))
    backup_id = bucket_layout.new_backup_id(when)
    assert backup_id == "20261123t044501z"
    assert bucket_layout.validate_name(backup_id) == backup_id
    later = bucket_layout.new_backup_id(datetime(2026, 11, 23, 4, 45, 2, tzinfo=UTC))
    assert later > backup_id
    with pytest.raises(LayoutError):
        bucket_layout.new_backup_id(datetime(2026, 11, 23))  # naive


@pytest.mark.parametrize(
    "key",
    [
        "velero//backups/prod/velero-backup.json",
        "velero/backups/prod//velero-backup.json",
        "/velero/backups/prod/velero-backup.json",
    ],
)
def test_empty_segments_never_reach_a_configured_velero_prefix(key: str) -> None:
    """Without the empty-segment check, ``velero//backups/prod/...`` is read as prod's marker."""
    assert parse_key(key, velero_prefixes=["velero"]) is None
    assert parse_key("velero/backups/prod/velero-backup.json", velero_prefixes=["velero"])


NATIVE_KEYS = ["backups/demo/b1/manifest.json", "backups/demo/b1/resources.tar.gz"]


def test_backup_keys_name_marker_and_archive() -> None:
    keys = bucket_layout.backup_keys(
        NATIVE_KEYS, format="native", cluster="demo", backup_id="b1", velero_clusters={}
    )
    assert (keys.marker, keys.archive) == tuple(NATIVE_KEYS)
    velero = bucket_layout.backup_keys(
        ["velero/backups/d1/velero-backup.json", "velero/backups/d1/d1.tar.gz"],
        format="velero",
        cluster="prod",
        backup_id="d1",
        velero_clusters={"velero": "prod"},
    )
    assert velero.archive == "velero/backups/d1/d1.tar.gz"


@pytest.mark.parametrize(
    ("keys", "fmt", "cluster", "backup_id", "velero"),
    [
        (NATIVE_KEYS, "native", "other", "b1", {}),  # the event's cluster is not the key's
        (NATIVE_KEYS, "native", "demo", "b2", {}),
        (NATIVE_KEYS[:1], "native", "demo", "b1", {}),
        ([NATIVE_KEYS[0], NATIVE_KEYS[0]], "native", "demo", "b1", {}),
        ([NATIVE_KEYS[0], "x/backups/demo/b1/resources.tar.gz"], "native", "demo", "b1", {}),
        (
            ["velero/backups/d1/velero-backup.json", "velero/backups/d1/d1.tar.gz"],
            "velero",
            "other",
            "d1",
            {"velero": "prod"},
        ),
        (
            ["velero/backups/d1/velero-backup.json", "velero/backups/d1/d1.tar.gz"],
            "velero",
            "prod",
            "d1",
            {},
        ),
        (NATIVE_KEYS, "velero", "demo", "b1", {"": "demo"}),
    ],
)
def test_backup_keys_must_agree_with_the_layout(
    keys: list[str], fmt: Any, cluster: str, backup_id: str, velero: dict[str, str]
) -> None:
    with pytest.raises(LayoutError):
        bucket_layout.backup_keys(
            keys, format=fmt, cluster=cluster, backup_id=backup_id, velero_clusters=velero
        )
