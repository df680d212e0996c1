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
    data = cache.dump()
    assert MemberCache.parse(data) == cache
    again = MemberCache(settings="s", index={"k": "v"}, members={a: EXCLUDED, b: WRITTEN})
    assert again.dump() == data
    assert again.dump(drain=True) == data
    assert again.members == {}  # drained as it was written


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
    data = cache.dump()
    assert data.count(b"\n") == 3
    assert MemberCache.parse(data) == cache
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
    ).dump()
    parsed = MemberCache.parse(data)
    assert parsed is not None
    shapes = {id(record.shape) for record in parsed.members.values()}
    assert len(shapes) == 1
    assert all(len(record.digest) == records.DIGEST_SIZE for record in parsed.members.values())


def test_a_cache_of_format_2_is_no_cache() -> None:
    """What the generator committed before FORMAT 3 (JSON rows): a full run, never an error."""
    old = (
        b'{"format":2,"settings":"s","index":{}}\n'
        b'["configmaps\\u0000n\\u0000c","4512a525a2a851f8ebb8cadf22c30b3b","v1","ConfigMap",'
        b'null,"clusters/c/namespaces/n/configmaps/c.yaml",'
        b'"fe818c0904651f79807188cc8e6d3b372111847a","ConfigMap",[],false,"ConfigMap n/c"]\n'
    )
    assert MemberCache.parse(old) is None


@pytest.mark.parametrize(
    "data",
    [
        None,
        b"",
        b"not json",
        b"[]",
        b'{"format": 999, "settings": "s", "index": {}}\n',
        b'{"format": 3, "settings": "s"}\n',
        b'{"format": 3, "settings": "s", "index": {"k": 1}}\n',
        b'{"format": 3, "settings": "s", "index": {}}\nk\n',
        b'{"format": 3, "settings": "s", "index": {}}\n' + b"\t" * 11 + b"\n",
        b'{"format": 3, "settings": "s", "index": {}}\n'
        b"c\tn\tk\t" + b"ab" * 16 + b"\tv1\tConfigMap\t?\t\t\t\t\t\n",  # neither
        b'{"format": 3, "settings": "s", "index": {}}\n'
        b"c\tn\tk\t" + b"ab" * 16 + b"\tv1\tConfigMap\t?\tx\treason\t\t\t\n",  # flags
        b'{"format": 3, "settings": "s", "index": {}}\n'
        b"c\tn\tk\t" + b"ab" * 8 + b"\tv1\tConfigMap\t?\t\treason\t\t\t\n",  # short
        b'{"format": 3, "settings": "s", "index": {}}\n'
        b"c\tn\tk\t" + b"ab" * 16 + b"\tv1\tConfigMap\t?\t\t\tp\tb1\t\n",  # blob
        b'{"format": 3, "settings": "s", "index": {}}\n'
        b"c\tn\tk\t" + b"ab" * 16 + b"\tv1\tConfigMap\t?\t\tr\\q\t\t\t\n",  # escape
        b'{"format": 3, "settings": "s", "index": {}}\n'
        b"c\tn\tk\t" + b"ab" * 16 + b"\tv1\tConfigMap\t?\t\treason\t\t\t[1]\n",
        b'{"format": 3, "settings": "s", "index": {}}\n'
        b"c\tn\tk\t" + b"zz" * 16 + b"\tv1\tConfigMap\t?\t\treason\t\t\t\n",  # hex
    ],
)
def test_a_missing_or_corrupt_cache_is_no_cache(data: bytes | None) -> None:
    assert MemberCache.parse(data) is None


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
    data = MemberCache(settings="s", members={key: natural}).dump()
    assert b"\t=\t" in data
    assert WRITTEN.path is not None and WRITTEN.path.encode() not in data
    parsed = MemberCache.parse(data)
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
