"""core.member_cache: which members of a backup need decoding, given the last commit's records."""

from __future__ import annotations

from typing import Any

import pytest

from backup2gitops.core import member_cache as mc
from backup2gitops.core.cleaning import BackupIndex
from backup2gitops.core.member_cache import MemberCache, MemberRecord

WRITTEN = MemberRecord(
    "d1",
    "apps/v1",
    "Deployment",
    path="clusters/c/namespaces/team/deployments.apps/web.yaml",
    blob="b1",
    out_kind="Deployment",
)
EXCLUDED = MemberRecord("d2", "v1", "Event", excluded="builtin:events")


def reusable(record: MemberRecord | None, **overrides: Any) -> bool:
    arguments: dict[str, Any] = {
        "digest": record.digest if record else "d",
        "namespace": "team",
        "name": "web",
        "changed": frozenset(),
        "committed": {WRITTEN.path: "b1"},
    }
    return mc.reusable(record, **(arguments | overrides))


def test_same_bytes_same_file_is_kept() -> None:
    assert reusable(WRITTEN)


def test_new_or_changed_members_are_decoded() -> None:
    assert not reusable(None)
    assert not reusable(WRITTEN, digest="other")


def test_a_file_edited_or_removed_in_the_tree_is_written_again() -> None:
    assert not reusable(WRITTEN, committed={WRITTEN.path: "edited"})
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
    cache = MemberCache(settings="s", index={"k": "v"}, members={"b": WRITTEN, "a": EXCLUDED})
    data = cache.dump()
    assert MemberCache.parse(data) == cache
    again = MemberCache(settings="s", index={"k": "v"}, members={"a": EXCLUDED, "b": WRITTEN})
    assert again.dump() == data


@pytest.mark.parametrize(
    "data",
    [
        None,
        b"",
        b"not json",
        b"[]",
        b'{"format": 999, "settings": "s", "index": {}}\n',
        b'{"format": 1, "settings": "s"}\n',
        b'{"format": 1, "settings": "s", "index": {"k": 1}}\n',
        b'{"format": 1, "settings": "s", "index": {}}\n["k"]\n',
        b'{"format": 1, "settings": "s", "index": {}}\nnot json\n',
        b'{"format": 1, "settings": "s", "index": {}}\n'
        b'["k","d","v1","ConfigMap",null,null,null,"?",[],false]\n',
        b'{"format": 1, "settings": "s", "index": {}}\n'
        b'["k","d","v1","ConfigMap",null,["p"],"b","?",[],false]\n',
    ],
)
def test_a_missing_or_corrupt_cache_is_no_cache(data: bytes | None) -> None:
    assert MemberCache.parse(data) is None


def test_settings_digest_depends_on_every_part_and_their_order() -> None:
    assert mc.settings_digest(["a", "b"]) != mc.settings_digest(["b", "a"])
    assert mc.settings_digest(["ab"]) != mc.settings_digest(["a", "b"])
    assert mc.settings_digest(["a"]) == mc.settings_digest(["a"])
