import gzip
import io
import json
import tarfile
from collections.abc import Iterable
from typing import Any

import pytest

from backup2gitops.core.archive import (
    ArchiveError,
    ArchiveLimits,
    ArchiveWriter,
    BackupItem,
    ReadReport,
    check_format_version,
    iter_items,
)
from tests.fixtures.velero import velero_tarball, write_velero_backup


def _obj(api_version: str, kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "uid": f"uid-{kind}-{name}"}
    if namespace:
        metadata["namespace"] = namespace
    return {"apiVersion": api_version, "kind": kind, "metadata": metadata}


ITEMS = [
    BackupItem("namespaces", None, "shop", _obj("v1", "Namespace", "shop")),
    BackupItem("configmaps", "shop", "cart", _obj("v1", "ConfigMap", "cart", "shop")),
    BackupItem("deployments.apps", "shop", "web", _obj("apps/v1", "Deployment", "web", "shop")),
    BackupItem(
        "clusterroles.rbac.authorization.k8s.io",
        None,
        "system:aggregate-to-view",
        _obj("rbac.authorization.k8s.io/v1", "ClusterRole", "system:aggregate-to-view"),
    ),
]


def _write(items: Iterable[BackupItem], **kwargs: Any) -> bytes:
    out = io.BytesIO()
    with ArchiveWriter(out) as writer:
        for item in items:
            writer.add_item(item, **kwargs)
    return out.getvalue()


def _raw_tar(members: list[tuple[str, bytes]], *, gz: bool = True, **info: Any) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, data in members:
            tarinfo = tarfile.TarInfo(name)
            tarinfo.size = len(data)
            for attribute, value in info.items():
                setattr(tarinfo, attribute, value)
            tar.addfile(tarinfo, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), mtime=0) if gz else raw.getvalue()


def _read(data: bytes, **kwargs: Any) -> list[BackupItem]:
    return list(iter_items(io.BytesIO(data), **kwargs))


def _members(data: bytes) -> list[str]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        return tar.getnames()


VERSION = ("metadata/version", b"1.1.0\n")


def test_round_trip() -> None:
    out = io.BytesIO()
    with ArchiveWriter(out) as writer:
        for item in ITEMS:
            writer.add_item(item)
    report = ReadReport()
    assert _read(out.getvalue(), report=report) == ITEMS
    assert report.format_version == "1.1.0"
    assert report.items == 4 and report.duplicates_skipped == 0 and not report.warnings
    assert writer.counts == {
        "clusterroles.rbac.authorization.k8s.io": 1,
        "configmaps": 1,
        "deployments.apps": 1,
        "namespaces": 1,
    }
    assert writer.size == len(out.getvalue())
    import hashlib

    assert writer.sha256 == hashlib.sha256(out.getvalue()).hexdigest()


def test_writer_layout_and_determinism() -> None:
    one = _write(ITEMS, also_preferred_version="v1")
    assert one == _write(ITEMS, also_preferred_version="v1")
    assert _members(one) == [
        "metadata/version",
        "resources/namespaces/cluster/shop.json",
        "resources/namespaces/v1-preferredversion/cluster/shop.json",
        "resources/configmaps/namespaces/shop/cart.json",
        "resources/configmaps/v1-preferredversion/namespaces/shop/cart.json",
        "resources/deployments.apps/namespaces/shop/web.json",
        "resources/deployments.apps/v1-preferredversion/namespaces/shop/web.json",
        "resources/clusterroles.rbac.authorization.k8s.io/cluster/system:aggregate-to-view.json",
        "resources/clusterroles.rbac.authorization.k8s.io/v1-preferredversion/cluster/"
        "system:aggregate-to-view.json",
    ]
    assert gzip.decompress(one)[:0] == b""
    assert one[4:8] == b"\x00\x00\x00\x00"  # gzip header mtime
    with tarfile.open(fileobj=io.BytesIO(one), mode="r:gz") as tar:
        for member in tar.getmembers():
            assert (member.mtime, member.uid, member.gid, member.uname) == (0, 0, 0, "")
            assert member.isreg()
        data = tar.extractfile("resources/configmaps/namespaces/shop/cart.json")
        assert data is not None
        assert (
            data.read() == json.dumps(ITEMS[1].obj, sort_keys=True, separators=(",", ":")).encode()
        )


def test_same_objects_different_key_order_same_bytes() -> None:
    reordered = [
        BackupItem(i.group_resource, i.namespace, i.name, dict(reversed(i.obj.items())))
        for i in ITEMS
    ]
    assert _write(ITEMS) == _write(reordered)


def test_velero_tarball_with_preferred_duplicates_emits_each_once() -> None:
    report = ReadReport()
    assert _read(velero_tarball(ITEMS), report=report) == ITEMS
    assert report.duplicates_skipped == len(ITEMS)


def test_write_velero_backup_to_directory(tmp_path: Any) -> None:
    folder = tmp_path / "backups" / "daily-1"
    backup = write_velero_backup(folder, name="daily-1", items=ITEMS, phase="Completed")
    on_disk = json.loads((folder / "velero-backup.json").read_text())
    assert on_disk == backup
    assert backup["status"]["phase"] == "Completed"
    assert backup["status"]["formatVersion"] == "1.1.0"
    assert backup["metadata"]["annotations"]["velero.io/source-cluster-k8s-gitversion"] == "v1.31.4"
    assert "completionTimestamp" in backup["status"]
    with (folder / "daily-1.tar.gz").open("rb") as stream:
        assert list(iter_items(stream)) == ITEMS
    stream_out = io.BytesIO()
    pending = write_velero_backup(stream_out, name="daily-2", items=ITEMS, phase="Finalizing")
    assert "completionTimestamp" not in pending["status"]
    assert _read(stream_out.getvalue()) == ITEMS


def test_object_only_under_preferred_version_dir_is_emitted() -> None:
    cm = json.dumps(_obj("v1", "ConfigMap", "a", "ns")).encode()
    data = _raw_tar(
        [VERSION, ("resources/configmaps/v1-preferredversion/namespaces/ns/a.json", cm)]
    )
    assert _read(data) == [BackupItem("configmaps", "ns", "a", json.loads(cm))]


def test_preferred_copy_before_unversioned_copy_still_once() -> None:
    cm = json.dumps(_obj("v1", "ConfigMap", "a", "ns")).encode()
    data = _raw_tar(
        [
            VERSION,
            ("resources/configmaps/v1-preferredversion/namespaces/ns/a.json", cm),
            ("resources/configmaps/namespaces/ns/a.json", cm),
        ]
    )
    assert len(_read(data)) == 1


def test_other_api_versions_are_skipped_in_any_order() -> None:
    v2 = json.dumps(_obj("example.com/v2", "Widget", "w", "ns")).encode()
    v1 = json.dumps(_obj("example.com/v1", "Widget", "w", "ns")).encode()
    gr = "resources/widgets.example.com"
    data = _raw_tar(
        [
            VERSION,
            (f"{gr}/v1/namespaces/ns/w.json", v1),  # EnableAPIGroupVersions, listed first
            (f"{gr}/namespaces/ns/w.json", v2),
            (f"{gr}/v2-preferredversion/namespaces/ns/w.json", v2),
            (f"{gr}/v1beta1/namespaces/ns/w.json", v1),
            (f"{gr}/v1/namespaces/ns/orphan.json", v1),
        ]
    )
    report = ReadReport()
    items = _read(data, report=report)
    assert [(i.name, i.obj["apiVersion"]) for i in items] == [("w", "example.com/v2")]
    assert report.other_versions_skipped == 3 and report.duplicates_skipped == 1
    assert report.warnings == [
        "widgets.example.com ns/orphan is only in non-preferred API versions; skipped"
    ]


def test_directories_are_skipped_and_dot_slash_prefix_accepted() -> None:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tar:
        for directory in ["./", "./metadata", "./resources"]:
            info = tarfile.TarInfo(directory)
            info.type = tarfile.DIRTYPE
            tar.addfile(info)
        for name, data in [
            ("./metadata/version", b"1\n"),
            ("./resources/namespaces/cluster/a.json", b'{"kind":"Namespace"}'),
        ]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    report = ReadReport()
    assert _read(raw.getvalue(), report=report) == [
        BackupItem("namespaces", None, "a", {"kind": "Namespace"})
    ]
    assert report.format_version == "1"


def test_unknown_members_are_warned_not_fatal() -> None:
    data = _raw_tar(
        [
            VERSION,
            ("metadata/extra", b"x"),
            ("resources/configmaps/oops.json", b"{}"),
            ("resources/configmaps/namespaces/ns/readme.txt", b"x"),
            ("other/thing", b"x"),
        ]
    )
    report = ReadReport()
    assert _read(data, report=report) == []
    assert len(report.warnings) == 4


def _error(data: bytes, **kwargs: Any) -> ArchiveError:
    with pytest.raises(ArchiveError) as caught:
        _read(data, **kwargs)
    return caught.value


@pytest.mark.parametrize("cut", [10, 100, 0.5, 0.9, -9, -1])
def test_truncated_gzip(cut: float) -> None:
    data = _write(ITEMS * 50, also_preferred_version="v1")
    end = int(len(data) * cut) if isinstance(cut, float) else cut
    assert _error(data[:end]).reason == "truncated"


def test_truncated_at_member_boundary_is_detected() -> None:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, data in [VERSION, ("resources/namespaces/cluster/a.json", b"{}")]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    whole = raw.getvalue()
    assert len(_read(gzip.compress(whole))) == 1
    # a tar stream cut right after a member, then gzip'd completely: no end-of-archive marker
    assert _error(gzip.compress(whole[:2048])).reason == "truncated"
    assert _error(gzip.compress(whole[:2048] + b"\0" * 512)).reason == "truncated"
    # a garbage block where the next header should be, even if zeros follow
    assert _error(gzip.compress(whole[:2048] + b"x" * 512 + b"\0" * 1024)).reason == "truncated"
    # data after the end-of-archive marker
    assert _error(gzip.compress(whole + b"surprise")).reason == "truncated"
    # a gzip stream cut anywhere is caught by the gzip trailer check
    assert _error(gzip.compress(whole)[:-8]).reason == "truncated"


@pytest.mark.parametrize("garbage", [b"", b"not a gzip stream at all", b"\x1f\x8b\x08broken"])
def test_not_a_gzip_tarball(garbage: bytes) -> None:
    assert _error(garbage).reason == "truncated"


def test_corrupt_crc() -> None:
    data = bytearray(_write(ITEMS))
    data[-8] ^= 0xFF
    assert _error(bytes(data)).reason == "truncated"


def test_corrupt_header_mid_stream() -> None:
    tar = bytearray(gzip.decompress(_write(ITEMS)))
    tar[1024 + 148 : 1024 + 156] = b"garbage!"  # checksum field of the 2nd member's header
    assert _error(gzip.compress(bytes(tar))).reason == "truncated"


@pytest.mark.parametrize(
    "name",
    [
        "../etc/passwd",
        "resources/../../x.json",
        "/resources/namespaces/cluster/a.json",
        "resources/namespaces//cluster/a.json",
        "resources\\namespaces\\cluster\\a.json",
        "resources/./namespaces/cluster/a.json",
    ],
)
def test_unsafe_member_names(name: str) -> None:
    assert _error(_raw_tar([VERSION, (name, b"{}")])).reason == "unsafe_path"


@pytest.mark.parametrize("kind", [tarfile.SYMTYPE, tarfile.LNKTYPE])
def test_links_rejected(kind: bytes) -> None:
    data = _raw_tar(
        [VERSION, ("resources/secrets/namespaces/ns/a.json", b"")],
        type=kind,
        linkname="/etc/passwd",
    )
    assert _error(data).reason == "link"


@pytest.mark.parametrize("kind", [tarfile.CHRTYPE, tarfile.BLKTYPE, tarfile.FIFOTYPE])
def test_devices_rejected(kind: bytes) -> None:
    data = _raw_tar([VERSION, ("resources/x/cluster/a.json", b"")], type=kind)
    assert _error(data).reason == "not_regular"


def test_oversized_member() -> None:
    big = json.dumps({"data": "x" * 2000}).encode()
    data = _raw_tar([VERSION, ("resources/configmaps/namespaces/ns/big.json", big)])
    assert _error(data, max_member_bytes=1000).reason == "too_large"
    assert len(_read(data, max_member_bytes=len(big))) == 1


@pytest.mark.parametrize("payload", [b"{not json", b"[1, 2]", b"\xff\xfe{}", b""])
def test_bad_json(payload: bytes) -> None:
    data = _raw_tar([VERSION, ("resources/configmaps/namespaces/ns/a.json", payload)])
    assert _error(data).reason == "invalid_json"


def test_missing_metadata_version() -> None:
    assert _error(_raw_tar([("resources/namespaces/cluster/a.json", b"{}")])).reason == (
        "unsupported_version"
    )
    assert _error(_raw_tar([])).reason in {"unsupported_version", "truncated"}
    assert _error(_raw_tar([("other/file", b"x")])).reason == "unsupported_version"


def test_metadata_version_after_resources() -> None:
    data = _raw_tar([("resources/namespaces/cluster/a.json", b"{}"), VERSION])
    assert _error(data).reason == "unsupported_version"


@pytest.mark.parametrize("raw", [b"2.0.0\n", b"0.9\n", b"", b"one", b"1.x", b"\xff"])
def test_unsupported_version(raw: bytes) -> None:
    with pytest.raises(ArchiveError) as caught:
        check_format_version(raw)
    assert caught.value.reason == "unsupported_version"
    data = _raw_tar([("metadata/version", raw), ("resources/namespaces/cluster/a.json", b"{}")])
    assert _error(data).reason == "unsupported_version"


@pytest.mark.parametrize("raw", [b"1.1.0\n", b"1\n", b"1.0", b"1.2.3"])
def test_supported_versions(raw: bytes) -> None:
    assert check_format_version(raw) == raw.decode().strip()


def test_writer_rejects_unsafe_names() -> None:
    with pytest.raises(ArchiveError) as caught, ArchiveWriter(io.BytesIO()) as writer:
        writer.add(group_resource="configmaps", namespace="..", name="a", obj={})
    assert caught.value.reason == "unsafe_path"
    with ArchiveWriter(io.BytesIO()) as writer, pytest.raises(ArchiveError):
        writer.add(group_resource="configmaps", namespace=None, name="a/b", obj={})


def test_writer_abandoned_on_error_reads_as_truncated() -> None:
    out = io.BytesIO()
    with pytest.raises(RuntimeError), ArchiveWriter(out) as writer:
        for item in ITEMS * 200:
            writer.add_item(item)
        raise RuntimeError("kube list failed")
    assert _error(out.getvalue()).reason == "truncated"
    written = out.getvalue()
    del writer
    import gc

    gc.collect()
    assert out.getvalue() == written  # nothing completes it later


def test_writer_closed() -> None:
    writer = ArchiveWriter(io.BytesIO())
    writer.close()
    writer.close()
    with pytest.raises(ValueError, match="closed"):
        writer.add(group_resource="configmaps", namespace=None, name="a", obj={})


# ------------------------------------------------------------------------- limits (streaming)


def _limited(data: bytes, limits: ArchiveLimits) -> tuple[ArchiveError, int]:
    """The error, and how many items had been yielded when it was raised."""
    seen = 0
    with pytest.raises(ArchiveError) as caught:
        for _ in iter_items(io.BytesIO(data), limits=limits):
            seen += 1
    return caught.value, seen


def test_too_many_entries_stop_the_read_at_the_limit() -> None:
    members = [("metadata/version", b"1.1.0\n")]
    members += [(f"resources/configmaps/namespaces/ns/c{i}.json", b"{}") for i in range(50)]
    error, seen = _limited(_raw_tar(members), ArchiveLimits(max_entries=10))
    assert error.reason == "limit_exceeded" and "10 entries" in error.message
    assert seen == 9  # metadata/version + 9 items, then the 11th entry is refused unread


def test_a_member_over_the_size_limit_is_refused_unread() -> None:
    members = [("metadata/version", b"1.1.0\n"), ("resources/x/cluster/a.json", b"{}" * 600)]
    error, _ = _limited(_raw_tar(members), ArchiveLimits(max_member_bytes=1000))
    assert error.reason == "too_large"


def test_the_decompressed_total_is_bounded() -> None:
    members = [("metadata/version", b"1.1.0\n")]
    members += [(f"padding/{i}", bytes(range(256)) * 400) for i in range(10)]
    error, _ = _limited(_raw_tar(members), ArchiveLimits(max_total_bytes=200_000, max_ratio=1e9))
    assert error.reason == "limit_exceeded" and "max_total_bytes" in error.message


def test_a_decompression_bomb_is_refused_by_its_ratio() -> None:
    members = [("metadata/version", b"1.1.0\n"), ("padding/zeros", bytes(4 * 1024 * 1024))]
    bomb = _raw_tar(members)
    limits = ArchiveLimits(max_ratio=50, ratio_floor_bytes=1024 * 1024, max_member_bytes=1 << 30)
    error, _ = _limited(bomb, limits)
    assert error.reason == "limit_exceeded" and "max_ratio" in error.message
    assert list(iter_items(io.BytesIO(bomb), limits=ArchiveLimits(max_member_bytes=1 << 30))) == []
