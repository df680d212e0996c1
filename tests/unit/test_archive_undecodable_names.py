"""A member name that is not UTF-8 is read as tarfile reads it (its other bytes escaped as lone
surrogates) and its item refused on its own: it once failed the whole read with a
``UnicodeEncodeError`` (a bug's 500, redelivered) when the reader digested its key."""

from __future__ import annotations

import gzip
import io
import json
import tarfile

from backup2gitops.core.archive import ReadReport, iter_items, iter_members


def archive(members: list[tuple[str, dict[str, object]]]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as out:
        for name, obj in [("metadata/version", None), *members]:
            data = b"1.1.0\n" if obj is None else json.dumps(obj).encode()
            info = tarfile.TarInfo(name)  # tarfile writes the escaped bytes back as they were
            info.size = len(data)
            out.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), mtime=0)


def configmap(name: str, namespace: str) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace},
    }


LATIN_1 = "caf\udce9"  # b"caf\xe9": Latin-1, not UTF-8


def test_a_name_of_other_bytes_is_read_and_its_item_refused_alone() -> None:
    data = archive(
        [
            (f"resources/configmaps/namespaces/shop/{LATIN_1}.json", configmap(LATIN_1, "shop")),
            (f"resources/configmaps/namespaces/{LATIN_1}/a.json", configmap("a", LATIN_1)),
            ("resources/configmaps/namespaces/shop/ok.json", configmap("ok", "shop")),
        ]
    )
    names = [member.name for member in iter_members(io.BytesIO(data))]
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as read:
        assert names == read.getnames()[1:]
    report = ReadReport()
    items = list(iter_items(io.BytesIO(data), report=report))
    assert [(item.name, item.refused) for item in items] == [
        (LATIN_1, f"unsafe_name: the name {LATIN_1!r} is not UTF-8"),
        ("a", f"unsafe_name: the namespace {LATIN_1!r} is not UTF-8"),
        ("ok", None),
    ]
    assert report.refused_total == 2
