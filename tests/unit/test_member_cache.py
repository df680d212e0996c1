"""core.member_cache: which members of a backup need decoding, given the last commit's records."""

from __future__ import annotations

from typing import Any

import pytest

from backup2gitops.core import member_cache as mc
from backup2gitops.core import member_records as records
from backup2gitops.core.cleaning import BackupIndex
from backup2gitops.core.member_cache import MemberCache
from backup2gitops.core.member_records import MemberRecord

B1 = "b1" * 20  # a blob id: 40 hex digits
WRITTEN = MemberRecord(
    records.raw_digest(b"d1"),
    "apps/v1",
    "Deployment",
    path="clusters/c/namespaces/team/deployments.apps/web.yaml",
    blob=B1,
    out_kind="Deployment",
)
EXCLUDED = MemberRecord(records.raw_digest(b"d2"), "v1", "Event", excluded="builtin:events")


def written(cache: MemberCache) -> tuple[bytes, dict[str, bytes]]:
    """The cache's files as the generator writes them: the header, and each shard's file."""
    return cache.dump(), {shard: cache.dump_shard(keys) for shard, keys in cache.shards().items()}


def read_back(header: bytes, shards: dict[str, bytes]) -> MemberCache | None:
    parsed = MemberCache.parse(header)
    for shard, data in shards.items() if parsed is not None else ():
        assert parsed is not None and parsed.read_shard(shard, data) is not None
    return parsed


def reusable(record: MemberRecord | None, **overrides: Any) -> bool:
    arguments: dict[str, Any] = {
        "digest": record.digest if record else records.raw_digest(b"d"),
        "namespace": "team",
        "name": "web",
        "changed": frozenset(),
        "committed": {WRITTEN.path: B1},
    }
    return mc.reusable(record, **(arguments | overrides))


def test_same_bytes_same_file_is_kept() -> None:
    assert reusable(WRITTEN)


def test_new_or_changed_members_are_decoded() -> None:
    assert not reusable(None)
    assert not reusable(WRITTEN, digest=records.raw_digest(b"other"))


def test_a_file_edited_or_removed_in_the_tree_is_written_again() -> None:
    assert not reusable(WRITTEN, committed={WRITTEN.path: "ed" * 20})
    assert not reusable(WRITTEN, committed={})


def test_an_exclusion_needs_no_file() -> None:
    assert reusable(EXCLUDED, committed={}, name="e1")


def test_a_changed_fact_voids_only_the_members_that_look_it_up() -> None:
    hpa = mc.dependencies(namespace="team", name="web", api_version="apps/v1", kind="Deployment")
    assert not reusable(WRITTEN, changed=frozenset(hpa[1:2]))
    other = mc.dependencies(namespace="team", name="api", api_version="apps/v1", kind="Deployment")
    assert reusable(WRITTEN, changed=frozenset(other[1:2]))


def test_claims_are_a_dependency_of_persistent_volume_claims_only() -> None:
    claim = mc.dependencies(
        namespace="db", name="data-pg-0", api_version="v1", kind="PersistentVolumeClaim"
    )
    assert len(claim) == 3
    index = BackupIndex.of(
        [
            {
                "apiVersion": "apps/v1",
                "kind": "StatefulSet",
                "metadata": {"name": "pg", "namespace": "db"},
                "spec": {"volumeClaimTemplates": [{"metadata": {"name": "data"}}]},
            }
        ]
    )
    assert claim[2] in mc.index_fingerprints(index)
    config = mc.dependencies(namespace="db", name="data-pg-0", api_version="v1", kind="ConfigMap")
    assert len(config) == 2


def test_index_fingerprints_follow_the_facts() -> None:
    def statefulset(labels: dict[str, str]) -> dict[str, Any]:
        template = {"metadata": {"name": "data", "labels": labels}}
        return {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": "pg", "namespace": "db"},
            "spec": {"volumeClaimTemplates": [template]},
        }

    one = mc.index_fingerprints(BackupIndex.of([statefulset({"a": "1"})]))
    same = mc.index_fingerprints(BackupIndex.of([statefulset({"a": "1"})]))
    other = mc.index_fingerprints(BackupIndex.of([statefulset({"a": "2"})]))
    assert one == same
    assert mc.changed_facts(one, same) == frozenset()
    assert mc.changed_facts(one, other) == frozenset(one)
    assert mc.changed_facts(one, {}) == frozenset(one)  # a fact gone is a change too


def test_schema_defaults_are_fingerprinted_deterministically() -> None:
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "names": {"kind": "Widget", "plural": "widgets"},
            "versions": [
                {
                    "name": "v1",
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {
                                    "type": "object",
                                    "properties": {"size": {"type": "integer", "default": 3}},
                                }
                            },
                        }
                    },
                }
            ],
        },
    }
    facts = mc.index_fingerprints(BackupIndex.of([crd]))
    assert list(facts) == [
        mc.dependencies(namespace="a", name="w", api_version="example.com/v1", kind="Widget")[0]
    ]
    assert facts == mc.index_fingerprints(BackupIndex.of([crd]))


def test_dump_and_parse_round_trip_deterministically() -> None:
    a, b = (
        records.member_key("events", "team", "e1"),
        records.member_key("deployments.apps", "team", "web"),
    )
    cache = MemberCache(settings="s", index={"k": "v"}, members={b: WRITTEN, a: EXCLUDED})
    header, shards = written(cache)
    assert list(shards) == ["team"] and shards["team"].count(b"\n") == 2
    assert b"\n" not in header.rstrip(b"\n")  # the header is one line: no record in it
    assert read_back(header, shards) == cache
    again = MemberCache(settings="s", index={"k": "v"}, members={a: EXCLUDED, b: WRITTEN})
    assert written(again) == (header, shards)
    assert again.dump_shard(again.shards()["team"], drain=True) == shards["team"]
    assert again.members == {}  # drained as it was written


def test_each_namespace_has_a_shard_file_of_its_own() -> None:
    """Cluster-scoped members go to ``_cluster``; a namespace that is not a DNS label (a
    name from the archive) to a digest of it, never a path of its own."""
    odd = "../../x"
    keys = [
        records.member_key("configmaps", "team", "c"),
        records.member_key("configmaps", "team-2", "c"),
        records.member_key("namespaces", None, "team"),
        records.member_key("configmaps", odd, "c"),
    ]
    cache = MemberCache(settings="s", members=dict.fromkeys(keys, EXCLUDED))
    shards = cache.shards()
    hashed = mc.shard_of(odd)
    assert sorted(shards) == sorted(["team", "team-2", "_cluster", hashed])
    assert hashed.startswith("_") and len(hashed) == 17 and "/" not in hashed
    assert mc.shard_of("Team") != "Team" and mc.shard_of("a" * 64) != "a" * 64
    assert mc.shard_path("clusters/c", "team") == "clusters/c/.backup2gitops/members/team.cache"
    files = [mc.shard_path("clusters/c", shard) for shard in shards]
    files += [
        "clusters/c/.backup2gitops/members.cache",
        "clusters/c/.backup2gitops/members/x/y.cache",
    ]
    assert mc.shards_in(files, "clusters/c") == {
        shard: mc.shard_path("clusters/c", shard) for shard in shards
    }


def test_a_shard_holding_another_namespaces_record_adds_none() -> None:
    """A shard file that says more than its namespace (moved or edited by hand) cannot be
    trusted: none of its records is read, so its members are decoded again."""
    cache = MemberCache(
        settings="s",
        members={
            records.member_key("configmaps", "team", "a"): EXCLUDED,
            records.member_key("configmaps", "other", "b"): EXCLUDED,
        },
    )
    header, shards = written(cache)
    parsed = MemberCache.parse(header)
    assert parsed is not None
    assert parsed.read_shard("team", shards["team"] + shards["other"]) is None
    assert parsed.read_shard("other", shards["team"]) is None
    assert parsed.members == {}
    assert parsed.read_shard("team", shards["team"]) == 1


def test_awkward_text_round_trips() -> None:
    """Tabs, newlines, backslashes and bytes that are not UTF-8 (an archive's member names are
    anyone's) come back as they were, one line per record."""
    odd = "we\\ird\t\tname\n\r\udcff"
    record = MemberRecord(
        records.raw_digest(b"x"),
        "v1",
        "Con\tfigMap",
        path=f"clusters/c/namespaces/n/configmaps/{odd}.yaml",
        blob=B1,
        out_kind="ConfigMap",
        credentials=(f"ConfigMap n/{odd}: data.password", "\\"),
        unmanaged=True,
    )
    refused = MemberRecord(records.raw_digest(b"y"), excluded=f"refused: {odd}", refused=True)
    key = records.member_key("configmaps", "n", odd)
    cache = MemberCache(
        settings="s", members={key: record, records.member_key("a", None, odd): refused}
    )
    header, shards = written(cache)
    assert [data.count(b"\n") for data in shards.values()] == [1, 1]
    assert read_back(header, shards) == cache
    assert record.unmanaged_name("n", odd) == f"ConfigMap n/{odd}"
    assert refused.unmanaged_name(None, odd) is None


def test_records_share_what_they_have_in_common() -> None:
    data = MemberCache(
        settings="s",
        members={
            records.member_key("configmaps", "n", f"c{i}"): MemberRecord(
                records.raw_digest(b"%d" % i),
                "v1",
                "ConfigMap",
                path=f"clusters/c/namespaces/n/configmaps/c{i}.yaml",
                blob=f"{i:040x}",
                out_kind="ConfigMap",
            )
            for i in range(3)
        },
    )
    parsed = read_back(*written(data))
    assert parsed is not None
    shapes = {id(record.shape) for record in parsed.members.values()}
    assert len(shapes) == 1
    assert all(len(record.digest) == records.DIGEST_SIZE for record in parsed.members.values())


def test_a_cache_of_format_2_or_3_is_no_cache() -> None:
    """What the generator committed before FORMAT 4 (every record in the header's file, as
    JSON rows or tab-separated lines): a full run, never an error."""
    old = (
        b'{"format":2,"settings":"s","index":{}}\n'
        b'["configmaps\\u0000n\\u0000c","4512a525a2a851f8ebb8cadf22c30b3b","v1","ConfigMap",'
        b'null,"clusters/c/namespaces/n/configmaps/c.yaml",'
        b'"fe818c0904651f79807188cc8e6d3b372111847a","ConfigMap",[],false,"ConfigMap n/c"]\n'
    )
    assert MemberCache.parse(old) is None
    three = b'{"format":3,"settings":"s","index":{}}\n'
    assert MemberCache.parse(three) is None
    record = records.member_key("configmaps", "n", "c")
    assert MemberCache.parse(three + EXCLUDED.line(record).encode() + b"\n") is None


@pytest.mark.parametrize(
    "data",
    [
        None,
        b"",
        b"not json",
        b"[]",
        b'{"format": 999, "settings": "s", "index": {}}\n',
        b'{"format": 4, "settings": "s"}\n',
        b'{"format": 4, "settings": "s", "index": {"k": 1}}\n',
        b'{"format": 4, "settings": "s", "index": {}}\nk\n',
    ],
)
def test_a_missing_or_corrupt_cache_is_no_cache(data: bytes | None) -> None:
    assert MemberCache.parse(data) is None


@pytest.mark.parametrize(
    "data",
    [
        b"k\n",
        b"\t" * 11 + b"\n",
        b"c\tn\tk\t" + b"ab" * 16 + b"\tv1\tConfigMap\t?\t\t\t\t\t\n",  # neither
        b"c\tn\tk\t" + b"ab" * 16 + b"\tv1\tConfigMap\t?\tx\treason\t\t\t\n",  # flags
        b"c\tn\tk\t" + b"ab" * 8 + b"\tv1\tConfigMap\t?\t\treason\t\t\t\n",  # short
        b"c\tn\tk\t" + b"ab" * 16 + b"\tv1\tConfigMap\t?\t\t\tp\tb1\t\n",  # blob
        b"c\tn\tk\t" + b"ab" * 16 + b"\tv1\tConfigMap\t?\t\tr\\q\t\t\t\n",  # escape
        b"c\tn\tk\t" + b"ab" * 16 + b"\tv1\tConfigMap\t?\t\treason\t\t\t[1]\n",
        b"c\tn\tk\t" + b"zz" * 16 + b"\tv1\tConfigMap\t?\t\treason\t\t\t\n",  # hex
    ],
)
def test_a_corrupt_shard_adds_no_record(data: bytes) -> None:
    cache = MemberCache(settings="s")
    good = b"c\tn\tj\t" + b"ab" * 16 + b"\tv1\tConfigMap\t?\t\treason\t\t\t\n"
    assert cache.read_shard("n", good + data) is None
    assert cache.members == {}
    assert cache.read_shard("n", good) == 1


def test_a_shard_read_whole_is_its_lines_read_one_by_one() -> None:
    """``MemberRecord.of_lines`` (every line's fields at once) holds to ``of_line`` per line:
    the same keys and records, escapes, exclusions, natural paths and credentials included."""
    odd = "we\\ird\tname"
    members = {
        records.member_key("deployments.apps", "team", "web"): WRITTEN,
        records.member_key("events", "team", "e1"): EXCLUDED,
        records.member_key("configmaps", "team", odd): MemberRecord(
            records.raw_digest(b"x"),
            "v1",
            "ConfigMap",
            blob=B1,
            out_kind="ConfigMap",
            credentials=(f"ConfigMap team/{odd}: data.password",),
            unmanaged=True,
        ),
        records.member_key("configmaps", "team", "plain"): MemberRecord(
            records.raw_digest(b"y"), "v1", "ConfigMap", blob=B1, out_kind="ConfigMap"
        ),
    }
    _, shards = written(MemberCache(settings="s", members=members))
    text = shards["team"].decode()
    one_by_one = dict(MemberRecord.of_line(line) for line in text.splitlines())
    assert MemberRecord.of_lines(text) == (one_by_one, {"team"})
    assert one_by_one == members
    assert MemberRecord.of_lines("\n" + text.replace("\n", "\n\n")) == (members, {"team"})
    assert MemberRecord.of_lines("") == ({}, set())
    spaced = text.replace(WRITTEN.digest.hex(), WRITTEN.digest.hex()[:30] + " 0", 1)
    with pytest.raises(ValueError):
        MemberRecord.of_lines(spaced)  # a digest's hex with a space in it is of another size


def test_settings_digest_depends_on_every_part_and_their_order() -> None:
    assert mc.settings_digest(["a", "b"]) != mc.settings_digest(["b", "a"])
    assert mc.settings_digest(["ab"]) != mc.settings_digest(["a", "b"])
    assert mc.settings_digest(["a"]) == mc.settings_digest(["a"])


def test_a_file_at_its_keys_natural_path_is_not_written_out() -> None:
    key = records.member_key("deployments.apps", "team", "web")
    natural = MemberRecord(records.raw_digest(b"d1"), "apps/v1", "Deployment", blob=B1)
    assert natural.file("clusters/c", key) == WRITTEN.path
    assert records.natural_path("clusters/c", records.member_key("namespaces", None, "team")) == (
        "clusters/c/cluster-scoped/namespaces/team.yaml"
    )
    header, shards = written(MemberCache(settings="s", members={key: natural}))
    assert b"\t=\t" in shards["team"]
    assert WRITTEN.path is not None and WRITTEN.path.encode() not in shards["team"]
    parsed = read_back(header, shards)
    assert parsed is not None and parsed.members[key] == natural
    assert EXCLUDED.file("clusters/c", key) is None
    arguments: dict[str, Any] = {
        "digest": natural.digest,
        "namespace": "team",
        "name": "web",
        "changed": frozenset(),
        "committed": {WRITTEN.path: B1},
    }
    assert mc.reusable(natural, path=natural.file("clusters/c", key), **arguments)
    assert not mc.reusable(natural, path=None, **arguments)
