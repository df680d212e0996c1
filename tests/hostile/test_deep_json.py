"""Deeply nested JSON is one refused object, never a 500 and never a failed backup.

Before: 100,000 levels made backup-complete answer 500 (RecursionError in the JSON parser, which
MinIO retries for ever, no ``backup.failed``); 900 levels were accepted and then failed the whole
backup in the generator (the cleaning and the YAML writer recurse per level) -- issue 22, item 9.
Now the reader refuses that one object with ``too_deep`` (``BackupItem.refused``), still counting
it as read, so neither the item count nor the rest of the backup suffers.
"""

from __future__ import annotations

import io
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO, cast

import pytest

from backup2gitops import generation
from backup2gitops.adapters.storage import MemoryStore
from backup2gitops.core import bucket_layout
from backup2gitops.core.archive import MAX_JSON_DEPTH, ReadReport, iter_items, json_depth
from backup2gitops.core.backup_manifest import ArchiveRef, BackupManifest, dump_manifest
from backup2gitops.core.cleaning import CleaningPolicy
from backup2gitops.core.events import BACKUP_COMPLETED
from tests.functional.test_backup_complete import BUCKET, Harness
from tests.git_repos import bare_repository, git_dir_output, git_remote
from tests.hostile.archives import configmap, tarball


def nested(depth: int) -> bytes:
    """A ConfigMap whose ``data`` hides ``depth`` levels of arrays (and some objects)."""
    inner = '{"a":' * (depth // 2) + "[" * (depth - depth // 2) + "1"
    inner += "]" * (depth - depth // 2) + "}" * (depth // 2)
    return (
        '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"deep","namespace":"shop"},'
        f'"data":{{}},"x":{inner}}}'
    ).encode()


def deep_backup(depth: int) -> bytes:
    return tarball(
        [
            configmap("before"),
            ("resources/configmaps/namespaces/shop/deep.json", nested(depth)),
            configmap("after"),
        ]
    )


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH, MAX_JSON_DEPTH + 1, 900, 100_000])
def test_the_reader_refuses_only_the_deep_object(depth: int) -> None:
    report = ReadReport()
    items = list(iter_items(io.BytesIO(deep_backup(depth)), report=report))
    assert [i.name for i in items] == ["before", "deep", "after"]
    assert report.items == 3  # the refused one is counted: the backup is not "incomplete"
    deep = items[1]
    # the object is ConfigMap > x > ...: one level more than ``depth``
    if depth + 1 <= MAX_JSON_DEPTH:  # pragma: no cover - kept for a lower limit
        assert deep.refused is None
    else:
        assert deep.refused is not None and deep.refused.startswith("too_deep")
        assert deep.obj == {}
        assert report.refused == [
            f"'resources/configmaps/namespaces/shop/deep.json': {deep.refused}"
        ]


def test_an_object_at_the_limit_is_kept() -> None:
    depth = MAX_JSON_DEPTH - 1  # one more: the ConfigMap around its field "x"
    items = list(iter_items(io.BytesIO(deep_backup(depth))))
    assert items[1].refused is None
    assert json_depth(nested(depth)) == MAX_JSON_DEPTH


@pytest.mark.parametrize(
    ("document", "depth"),
    [
        ("1", 0),
        ("{}", 1),
        ('{"a": [1, {"b": []}], "c": {}}', 4),
        ('["[[[[[", "\\"]]]]", {"k]": "{{"}]', 2),  # brackets in strings, escaped quotes
        ("[" * 200_000 + "]" * 200_000, MAX_JSON_DEPTH + 1),
    ],
)
def test_json_depth_counts_structure_only(document: str, depth: int) -> None:
    assert json_depth(document.encode()) == depth


def test_a_deep_object_in_utf16_is_refused_too() -> None:
    """json.loads reads UTF-16: the depth is measured on what it parsed, not on its bytes."""
    report = ReadReport()
    data = nested(MAX_JSON_DEPTH + 5).decode().encode("utf-16-le")
    archive = tarball([("resources/configmaps/namespaces/shop/deep.json", data)])
    (item,) = iter_items(io.BytesIO(archive), report=report)
    assert item.refused is not None and item.refused.startswith("too_deep")


@pytest.mark.parametrize("depth", [900, 100_000])
def test_backup_complete_accepts_the_backup(tmp_path: Path, depth: int) -> None:
    """Through backup-complete's HTTP wrapper: a verdict, not a 500."""
    archive = deep_backup(depth)
    store = MemoryStore(bucket=BUCKET)
    started = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    manifest = BackupManifest(
        backup_id="deep",
        cluster="prod",
        kubernetes_version="v1.31.4",
        started_at=started,
        finished_at=started + timedelta(seconds=1),
        resource_counts={"configmaps": 3},
        archive=ArchiveRef(
            key=bucket_layout.ARCHIVE_NAME,
            size=len(archive),
            sha256=__import__("hashlib").sha256(archive).hexdigest(),
        ),
    )
    key = bucket_layout.native_manifest_key(prefix="", cluster="prod", backup_id="deep")
    store.put_bytes(
        bucket_layout.native_archive_key(prefix="", cluster="prod", backup_id="deep"), archive
    )
    store.put_bytes(key, dump_manifest(manifest))
    reply = Harness(store).deliver("minio-webhook", key)
    assert reply is not None and reply.type == BACKUP_COMPLETED, reply


@pytest.mark.parametrize(
    ("depth", "kept"), [(MAX_JSON_DEPTH - 1, 3), (MAX_JSON_DEPTH, 2), (900, 2), (100_000, 2)]
)
def test_the_generator_commits_the_rest_of_the_backup(
    tmp_path: Path, depth: int, kept: int
) -> None:
    """The deepest object the reader keeps goes through the cleaning and the YAML writer too."""
    bare = bare_repository(tmp_path / "remote.git")
    data = deep_backup(depth)
    outcome = generation.generate(
        archive=lambda: cast("BinaryIO", io.BytesIO(data)),
        remote=git_remote(bare, tmp_path / "cache"),
        cluster="prod",
        backup_id="deep",
        policy=CleaningPolicy(),
        claims=generation.Claims(items=3, complete=True),
    )
    assert (outcome.plan.objects, outcome.plan.excluded) == (kept, 3 - kept)
    files = git_dir_output(bare, "ls-tree", "-r", "--name-only", "main").split()
    assert "clusters/prod/namespaces/shop/configmaps/before.yaml" in files
    assert "clusters/prod/namespaces/shop/configmaps/after.yaml" in files
    assert any(f.endswith("/deep.yaml") for f in files) == (kept == 3)


def walked_depth(value: object) -> int:
    """The depth by walking the decoded value (slow, obviously right)."""
    deepest = 0
    stack: list[tuple[object, int]] = [(value, 0)]
    while stack:
        current, depth = stack.pop()
        if isinstance(current, dict):
            current = list(current.values())
        if isinstance(current, list):
            deepest = max(deepest, depth + 1)
            stack.extend((child, depth + 1) for child in current)
    return deepest


def random_document(rnd: random.Random, levels: int, stop: float) -> str:
    """Narrow and bushy nestings, keys and strings full of brackets, quotes and backslashes."""
    if levels == 0 or rnd.random() < stop:
        return rnd.choice(["1", '"[\\"{"', '"\\\\"', "null", '"]]}}"', '""'])
    count = 1 if rnd.random() < 0.97 else 3
    parts = [random_document(rnd, levels - 1, stop) for _ in range(count)]
    if rnd.random() < 0.5:
        return "[" + ",".join(parts) + "]"
    return "{" + ",".join(f'"k{i}[\\"":{part}' for i, part in enumerate(parts)) + "}"


def test_json_depth_agrees_with_walking_the_decoded_value() -> None:
    rnd = random.Random(22)  # noqa: S311 - a seeded test corpus, no secret
    depths = []
    for _ in range(2000):
        document = random_document(rnd, rnd.randint(0, 140), rnd.choice([0.005, 0.05, 0.3]))
        expected = min(walked_depth(json.loads(document)), MAX_JSON_DEPTH + 1)
        assert json_depth(document.encode()) == expected, document
        depths.append(expected)
    assert min(depths) == 0 and depths.count(MAX_JSON_DEPTH + 1) > 50  # both ends covered
