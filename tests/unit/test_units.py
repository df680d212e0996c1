"""core.units: which unit an object is in, unit names, and the Flux / Argo CD entry points."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

import pytest
import yaml

from backup2gitops.config import ConfigError, parse_config
from backup2gitops.core import entry_points, kube_yaml, units
from backup2gitops.core.repo_plan import plan_tree

SOURCE = units.Source(url="https://git.example.com/c.git", branch="main")


def unit(key: str, cluster: str = "prod") -> units.Unit:
    return units.Unit(cluster=cluster, key=key)


@pytest.mark.parametrize(
    ("relative", "by", "key"),
    [
        ("cluster-scoped/namespaces/shop.yaml", "namespace", "cluster-scoped"),
        ("namespaces/shop/configmaps/a.yaml", "namespace", "namespaces/shop"),
        ("namespaces/cluster-scoped/configmaps/a.yaml", "namespace", "namespaces/cluster-scoped"),
        ("cluster-scoped/namespaces/shop.yaml", "cluster", ""),
        ("namespaces/shop/configmaps/a.yaml", "cluster", ""),
    ],
)
def test_unit_key(relative: str, by: units.UnitsBy, key: str) -> None:
    assert units.unit_key(relative, by=by) == key


@pytest.mark.parametrize(
    "relative", ["a.yaml", "namespaces/shop/a.yaml", "cluster-scoped/a.yaml", "flux/x/a.yaml"]
)
def test_paths_repo_layout_does_not_make_have_no_unit(relative: str) -> None:
    with pytest.raises(ValueError):
        units.unit_key(relative, by="namespace")


def test_unit_names_are_unique_and_fit_a_label_value() -> None:
    assert unit("cluster-scoped").name == "prod.cluster-scoped"
    assert unit("namespaces/cluster-scoped").name == "prod.ns.cluster-scoped"
    assert unit("").name == "prod"
    long_a, long_b = unit("namespaces/" + "a" * 63), unit("namespaces/" + "a" * 62 + "b")
    assert len(long_a.name) <= units.MAX_NAME and len(long_b.name) <= units.MAX_NAME
    assert long_a.name != long_b.name
    assert units.bounded_name("x" * 63) == "x" * 63


def test_cluster_scoped_first() -> None:
    found = units.ordered([unit("namespaces/a"), unit("cluster-scoped"), unit("namespaces/0")])
    assert [u.key for u in found] == ["cluster-scoped", "namespaces/0", "namespaces/a"]


@pytest.mark.parametrize(
    ("path", "generated"),
    [
        ("clusters/c/kustomization.yaml", True),
        ("clusters/c/namespaces/shop/kustomization.yaml", True),
        ("clusters/c/flux/c.ns.shop.yaml", True),
        ("clusters/c/argocd/applicationset.yaml", True),
        ("clusters/c/.backup2gitops/members.cache", True),
        ("clusters/c/namespaces/flux/configmaps/a.yaml", False),
        ("clusters/c/namespaces/shop/configmaps/_kustomization.yaml", False),
        ("clusters/c/cluster-scoped/namespaces/argocd.yaml", False),
    ],
)
def test_generated_files_are_told_from_objects(path: str, generated: bool) -> None:
    assert units.is_generated(path) is generated


def test_entry_points_need_a_source() -> None:
    with pytest.raises(ValueError):
        units.Layout(flux=units.FluxSettings())


def flux(settings: units.FluxSettings) -> dict[str, dict[str, Any]]:
    found = [unit("cluster-scoped"), unit("namespaces/a"), unit("namespaces/b")]
    return {name: dict(obj) for name, obj in entry_points.flux_objects(found, SOURCE, settings)}


def test_flux_namespaced_units_depend_on_the_cluster_scoped_one() -> None:
    objects = flux(units.FluxSettings())
    assert sorted(objects) == [
        "gitrepository.yaml",
        "prod.cluster-scoped.yaml",
        "prod.ns.a.yaml",
        "prod.ns.b.yaml",
    ]
    first = objects["prod.cluster-scoped.yaml"]["spec"]
    assert "dependsOn" not in first and first["path"] == "./clusters/prod/cluster-scoped"
    assert objects["prod.ns.a.yaml"]["spec"]["dependsOn"] == [{"name": "prod.cluster-scoped"}]
    assert all("decryption" not in o["spec"] for o in objects.values())
    source = objects["gitrepository.yaml"]["spec"]
    assert source == {"interval": "10m", "url": SOURCE.url, "ref": {"branch": "main"}}


def test_flux_decryption_and_an_existing_source() -> None:
    objects = flux(
        units.FluxSettings(create_source=False, source_name="flux-system", decryption_secret="k")
    )
    assert "gitrepository.yaml" not in objects
    for obj in objects.values():
        assert obj["spec"]["decryption"] == {"provider": "sops", "secretRef": {"name": "k"}}
        assert obj["spec"]["sourceRef"] == {"kind": "GitRepository", "name": "flux-system"}


def test_argocd_applications_cluster_scoped_in_an_earlier_wave() -> None:
    found = [unit("cluster-scoped"), unit("namespaces/a")]
    settings = units.ArgoSettings(mode="applications")
    apps = dict(entry_points.argocd_objects("prod", found, SOURCE, settings))
    waves = {
        name: obj["metadata"]["annotations"][entry_points.SYNC_WAVE] for name, obj in apps.items()
    }
    assert waves == {"prod.cluster-scoped.yaml": "-1", "prod.ns.a.yaml": "0"}
    spec = apps["prod.ns.a.yaml"]["spec"]
    assert spec["source"] == {
        "repoURL": SOURCE.url,
        "targetRevision": "main",
        "path": "clusters/prod/namespaces/a",
    }


def test_argocd_applicationset_generates_over_the_unit_folders() -> None:
    [(name, appset)] = entry_points.argocd_objects(
        "prod", [unit("cluster-scoped")], SOURCE, units.ArgoSettings()
    )
    assert name == "applicationset.yaml"
    directories = [g["git"]["directories"] for g in appset["spec"]["generators"]]
    assert directories == [
        [{"path": "clusters/prod/cluster-scoped"}],
        [{"path": "clusters/prod/namespaces/*"}],
    ]
    names = [g["git"]["template"]["metadata"]["name"] for g in appset["spec"]["generators"]]
    assert names == ["prod.cluster-scoped", "prod.ns.{{ .path.basename }}"]
    [(_, whole)] = entry_points.argocd_objects("prod", [unit("")], SOURCE, units.ArgoSettings())
    assert [g["git"]["directories"] for g in whole["spec"]["generators"]] == [
        [{"path": "clusters/prod"}]
    ]


@pytest.mark.parametrize("mode", ["applications", "applicationset"])
def test_argocd_syncs_server_side_without_self_heal_unless_asked(mode: units.ArgoMode) -> None:
    """The repository is written from the cluster: a sync owns only the fields in git, and a
    hand change waits for the next backup instead of being reverted (docs/decisions.md)."""
    for settings, self_heal in (
        (units.ArgoSettings(mode=mode), False),
        (units.ArgoSettings(mode=mode, self_heal=True, prune=False), True),
    ):
        for _, obj in entry_points.argocd_objects(
            "prod", [unit("cluster-scoped")], SOURCE, settings
        ):
            spec = obj["spec"]
            if obj["kind"] == "ApplicationSet":
                spec = spec["generators"][0]["git"]["template"]["spec"]
            policy = spec["syncPolicy"]
            assert policy["syncOptions"] == ["ServerSideApply=true"]
            assert policy["automated"] == {"prune": settings.prune, "selfHeal": self_heal}


OBJECTS = [
    (PurePosixPath("clusters/c/cluster-scoped/namespaces/shop.yaml"), {"kind": "Namespace"}),
    (PurePosixPath("clusters/c/namespaces/shop/configmaps/a.yaml"), {"kind": "ConfigMap"}),
]


def test_switching_by_rewrites_kustomizations_only() -> None:
    by_namespace = plan_tree(cluster="c", objects=OBJECTS)
    by_cluster = plan_tree(cluster="c", objects=OBJECTS, layout=units.Layout(by="cluster"))
    objects = {p: c for p, c in by_namespace.items() if p.name != "kustomization.yaml"}
    assert objects == {p: c for p, c in by_cluster.items() if p.name != "kustomization.yaml"}


def test_entry_points_are_planned_with_a_kustomization_per_folder() -> None:
    layout = units.Layout(
        source=SOURCE, flux=units.FluxSettings(), argocd=units.ArgoSettings(mode="applications")
    )
    tree = plan_tree(cluster="c", objects=OBJECTS, layout=layout)
    flux_listing = yaml.safe_load(tree[PurePosixPath("clusters/c/flux/kustomization.yaml")])
    assert flux_listing["resources"] == [
        "c.cluster-scoped.yaml",
        "c.ns.shop.yaml",
        "gitrepository.yaml",
    ]
    argo_listing = yaml.safe_load(tree[PurePosixPath("clusters/c/argocd/kustomization.yaml")])
    assert argo_listing["resources"] == ["c.cluster-scoped.yaml", "c.ns.shop.yaml"]
    root = yaml.safe_load(tree[PurePosixPath("clusters/c/kustomization.yaml")])
    assert root["resources"] == ["cluster-scoped", "namespaces/shop"]  # not the entry points


def test_configuration_maps_to_the_layout() -> None:
    config = parse_config(
        """
git: {url: "ssh://git@git.example.com/c.git", branch: prod}
generator:
  cleaning: {secrets: sops}
  sops_age_recipients: [age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gq]
  sops_digest_key: {env: BACKUP2GITOPS_SOPS_DIGEST_KEY}
  units: {flux: {enabled: true}, argocd: {mode: applicationset}}
"""
    )
    layout = config.layout()
    assert layout.source == units.Source(url="ssh://git@git.example.com/c.git", branch="prod")
    assert layout.flux is not None and layout.flux.decryption_secret == "sops-age"
    assert layout.argocd is not None and layout.argocd.mode == "applicationset"
    assert parse_config("{}").layout() == units.Layout()
    plain = parse_config(
        'git: {url: "https://g.example/c.git"}\ngenerator: {units: {flux: {enabled: true}}}'
    )
    assert plain.layout().flux is not None
    assert plain.layout().flux.decryption_secret is None  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("generator: {units: {flux: {enabled: true}}}", "generator.units.repo_url: the Flux"),
        (
            "generator: {units: {argocd: {mode: applications}, "
            'repo_url: "https://user:pw@git.example.com/c.git"}}',
            "generator.units.repo_url: must not contain credentials",
        ),
        ("generator: {units: {by: resource}}", "generator.units.by: must be one of"),
        ("generator: {units: {flux: {interval: 10 minutes}}}", "generator.units.flux.interval"),
    ],
)
def test_configuration_refusals_name_the_field(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    assert message in str(caught.value)


def members(**sizes: int) -> dict[str, list[str]]:
    """Unit key -> files: ``ns_<name>=n`` gives n ConfigMaps and n Deployments in that namespace."""
    found: dict[str, list[str]] = {}
    for name, n in sizes.items():
        key = "cluster-scoped" if name == "cluster" else f"namespaces/{name.removeprefix('ns_')}"
        found[key] = [
            f"{res}/o{i}.yaml" for res in ("configmaps", "deployments.apps") for i in range(n)
        ]
    return found


def test_a_unit_over_the_limit_is_cut_by_resource_folder() -> None:
    plan = units.plan_units(
        "prod", members(cluster=1, ns_big=3, ns_small=1), layout=units.Layout(split_over=4)
    )
    assert [u.key for u in plan.units] == [
        "cluster-scoped",
        "namespaces/big/configmaps",
        "namespaces/big/deployments.apps",
        "namespaces/small",
    ]
    assert plan.units[1].files == ("o0.yaml", "o1.yaml", "o2.yaml")
    assert plan.parents == {
        "namespaces/big": ("configmaps", "deployments.apps"),
        "": ("cluster-scoped", "namespaces/big", "namespaces/small"),
    }
    assert [u.name for u in plan.units] == [
        "prod.cluster-scoped",
        "prod.ns.big.configmaps",
        "prod.ns.big.deployments.apps",
        "prod.ns.small",
    ]
    assert not plan.units[1].cluster_scoped


def test_the_cluster_scoped_unit_is_cut_too_and_applies_first() -> None:
    plan = units.plan_units("prod", members(cluster=3, ns_a=1), layout=units.Layout(split_over=4))
    assert [u.key for u in plan.units[:2]] == [
        "cluster-scoped/configmaps",
        "cluster-scoped/deployments.apps",
    ]
    assert all(u.cluster_scoped for u in plan.units[:2])
    assert plan.units[0].name == "prod.cluster-scoped.configmaps"
    assert plan.parents[""] == ("cluster-scoped", "namespaces/a")
    flux_objects = dict(entry_points.flux_objects(plan.units, SOURCE, units.FluxSettings()))
    assert flux_objects["prod.ns.a.yaml"]["spec"]["dependsOn"] == [
        {"name": "prod.cluster-scoped.configmaps"},
        {"name": "prod.cluster-scoped.deployments.apps"},
    ]


def test_no_cut_at_the_limit_nor_by_cluster_nor_when_off() -> None:
    sizes = members(ns_a=2)
    assert [
        u.key for u in units.plan_units("p", sizes, layout=units.Layout(split_over=4)).units
    ] == ["namespaces/a"]
    assert [
        u.key for u in units.plan_units("p", sizes, layout=units.Layout(split_over=None)).units
    ] == ["namespaces/a"]
    whole = units.plan_units(
        "p",
        {"": ["namespaces/a/configmaps/x.yaml"] * 9},
        layout=units.Layout(by="cluster", split_over=1),
    )
    assert [u.key for u in whole.units] == [""] and "" not in whole.parents


def test_the_applicationset_excludes_a_cut_namespace_and_generates_over_its_folders() -> None:
    plan = units.plan_units(
        "prod", members(cluster=1, ns_big=3, ns_small=1), layout=units.Layout(split_over=4)
    )
    [(_, appset)] = entry_points.argocd_objects("prod", plan.units, SOURCE, units.ArgoSettings())
    generators = [g["git"] for g in appset["spec"]["generators"]]
    assert [g["directories"] for g in generators] == [
        [{"path": "clusters/prod/cluster-scoped"}],
        [
            {"path": "clusters/prod/namespaces/*"},
            {"path": "clusters/prod/namespaces/big", "exclude": True},
        ],
        [{"path": "clusters/prod/namespaces/big/*"}],
    ]
    assert generators[2]["template"]["metadata"]["name"] == "prod.ns.big.{{ .path.basename }}"


def test_cutting_rewrites_kustomizations_only() -> None:
    objects = [
        *OBJECTS,
        (PurePosixPath("clusters/c/namespaces/shop/services/a.yaml"), {"kind": "Service"}),
    ]
    whole = plan_tree(cluster="c", objects=objects, layout=units.Layout(split_over=None))
    cut = plan_tree(cluster="c", objects=objects, layout=units.Layout(split_over=1))
    assert PurePosixPath("clusters/c/namespaces/shop/services/kustomization.yaml") in cut
    objects = {p for p in whole if p.name != "kustomization.yaml"}
    assert objects == {p for p in cut if p.name != "kustomization.yaml"}
    assert all(whole[p] == cut[p] for p in objects)


PLAIN_ENTRIES = [
    "a.yaml",
    "config-1100.yaml",
    "_kustomization.yaml",
    "app%0123456789abcdef.yaml",
    "deployments.apps/app-0.yaml",
    "namespaces/team-0",
    "cluster-scoped/nodes",
    "1.yaml",
    "2001-12-14.yaml",
    "namespaces/1.5",
    "namespaces/yes",
]
ODD_ENTRIES = [
    "",
    "cluster-scoped",
    "configmaps",
    "yes",
    "no",
    "on",
    "null",
    "~",
    "1",
    "1.5",
    "0x1f",
    "2001-12-14",
    ".inf",
    "<<",
    "=",
    "- a.yaml",
    "-a.yaml",
    "a: b.yaml",
    "a:",
    "#a.yaml",
    "a #b.yaml",
    "%a.yaml",
    "@a.yaml",
    "'a'.yaml",
    '"a".yaml',
    "a b.yaml",
    " a.yaml",
    "a.yaml ",
    "A.yaml",
    "é.yaml",
    "a\nb.yaml",
    "a.yaml\nb.yaml",
    "a\tb.yaml",
    "...yaml",
    ".hidden.yaml",
    "a/.yaml",
    "a//b.yaml",
    "/a.yaml",
    "a/",
    "a.yaml/",
    "[a].yaml",
    "{a}.yaml",
    "a,b.yaml",
    "?a.yaml",
    "!a.yaml",
    "*a.yaml",
    "&a.yaml",
]


def test_a_kustomization_written_at_once_is_what_the_yaml_writer_writes() -> None:
    """Every entry above alone, first and last among plain ones, and the plain ones together:
    ``kube_yaml.kustomization_yaml`` writes the bytes ``kube_yaml.dump`` writes of the kustomization."""
    lists: list[list[str]] = [[], PLAIN_ENTRIES, PLAIN_ENTRIES[::-1]]
    for entry in PLAIN_ENTRIES + ODD_ENTRIES:
        lists += [[entry], [entry, *PLAIN_ENTRIES], [*PLAIN_ENTRIES, entry]]
    for listed in lists:
        expected = kube_yaml.dump(units.kustomization(listed))
        assert kube_yaml.kustomization_yaml(listed) == expected, listed
        assert kube_yaml.kustomization_yaml(iter(listed)) == expected, listed
    assert all(kube_yaml._PLAIN_ENTRIES.fullmatch(entry) for entry in PLAIN_ENTRIES)


def test_a_file_is_generated_as_its_folder_and_name_say() -> None:
    """What ``FastImport.sync_folder`` asks once per folder (``in_generated_folder``), with the
    file's name, says what ``is_generated`` says of each path."""
    folders = [
        "clusters/c",
        "clusters/c/namespaces/shop/configmaps",
        "clusters/c/cluster-scoped",
        f"clusters/c/{units.GENERATOR_FOLDER}",
        *(f"clusters/c/{folder}" for folder in sorted(units.ENTRY_POINT_FOLDERS)),
        *(f"clusters/c/{folder}/deeper" for folder in sorted(units.ENTRY_POINT_FOLDERS)),
        "other/c/flux-system",
        "clusters",
        "",
    ]
    names = ["a.yaml", units.KUSTOMIZATION, "members.cache", "kustomization.yml", ""]
    for folder in folders:
        for first in names:
            for name in names:
                by_folder = units.in_generated_folder(f"{folder}/{first}")
                path = f"{folder}/{name}"
                assert (name == units.KUSTOMIZATION or by_folder) == units.is_generated(path), path
