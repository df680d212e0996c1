"""Objects other GitOps tools own (keep / strip-marks / exclude) and the declarative ignore rules
in Argo CD's ``ignoreDifferences`` shape, validated with the rest of the configuration."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from pydantic import ValidationError

from backup2gitops.core import cleaning
from backup2gitops.core.cleaning import CleaningSettings
from backup2gitops.core.cleaning.gitops_owners import gitops_owner
from backup2gitops.core.cleaning.ignore_rules import (
    IgnoreRule,
    parse_path_expression,
    remove_path,
)
from backup2gitops.core.cleaning.objectref import ObjectRef


def configmap(labels: dict[str, str] | None = None, annotations: dict[str, str] | None = None):
    metadata: dict[str, Any] = {"name": "settings", "namespace": "shop"}
    if labels:
        metadata["labels"] = labels
    if annotations:
        metadata["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": {"a": "1"}}


FLUX = configmap(
    labels={
        "kustomize.toolkit.fluxcd.io/name": "apps",
        "kustomize.toolkit.fluxcd.io/namespace": "flux-system",
        "app": "shop",
    }
)
ARGO = configmap(
    annotations={"argocd.argoproj.io/tracking-id": "shop:/ConfigMap:shop/settings", "note": "x"}
)
HELM = configmap(
    labels={"app.kubernetes.io/managed-by": "Helm"},
    annotations={"meta.helm.sh/release-name": "pg", "meta.helm.sh/release-namespace": "data"},
)
FLUX_HELM = configmap(
    labels={
        "helm.toolkit.fluxcd.io/name": "podinfo",
        "helm.toolkit.fluxcd.io/namespace": "apps",
        "app.kubernetes.io/managed-by": "Helm",
    },
    annotations={"meta.helm.sh/release-name": "podinfo", "meta.helm.sh/release-namespace": "apps"},
)


@pytest.mark.parametrize(
    ("obj", "owner"),
    [
        (FLUX, "Flux Kustomization flux-system/apps"),
        (ARGO, "Argo CD Application shop"),
        (HELM, "Helm release data/pg"),
        (FLUX_HELM, "Flux HelmRelease apps/podinfo"),
        (configmap(labels={"app.kubernetes.io/instance": "shop"}), None),
    ],
)
def test_each_tool_s_marks_name_the_owner(obj: dict[str, Any], owner: str | None) -> None:
    assert gitops_owner(ObjectRef.of(obj)) == owner
    excluded = cleaning.prepare(obj, policy=CleaningSettings(gitops_owned="exclude"))
    assert excluded.excluded == (f"gitops: managed by {owner}" if owner else None)


def test_keep_is_the_default_and_writes_the_marks() -> None:
    kept = cleaning.prepare(FLUX)
    assert kept.object is not None
    assert kept.object["metadata"]["labels"]["kustomize.toolkit.fluxcd.io/name"] == "apps"
    assert CleaningSettings().gitops_owned == "keep"


def test_strip_marks_keeps_the_object_without_any_tool_s_marks() -> None:
    settings = CleaningSettings(gitops_owned="strip-marks")
    for obj in (FLUX, ARGO, HELM, FLUX_HELM):
        prepared = cleaning.prepare(obj, policy=settings)
        assert prepared.object is not None
        metadata = prepared.object["metadata"]
        assert gitops_owner(ObjectRef.of(prepared.object)) is None, metadata
        assert prepared.object["data"] == {"a": "1"}
    assert cleaning.prepare(FLUX, policy=settings).object["metadata"]["labels"] == {"app": "shop"}
    assert cleaning.prepare(ARGO, policy=settings).object["metadata"]["annotations"] == {
        "note": "x"
    }
    assert "labels" not in cleaning.prepare(HELM, policy=settings).object["metadata"]


def deployment() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "namespace": "shop",
            "annotations": {"example.com/stamp": "2026-12-07T01:00:00Z", "keep": "me"},
            "managedFields": [
                {
                    "manager": "kubectl",
                    "operation": "Apply",
                    "fieldsType": "FieldsV1",
                    "fieldsV1": {"f:spec": {"f:template": {"f:spec": {"f:containers": {}}}}},
                },
                {
                    "manager": "istio-sidecar-injector",
                    "operation": "Update",
                    "fieldsType": "FieldsV1",
                    "fieldsV1": {"f:spec": {"f:paused": {}}},
                },
            ],
        },
        "spec": {
            "replicas": 3,
            "paused": False,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "initContainers": [
                        {"name": "istio-init", "image": "istio/proxyv2"},
                        {"name": "migrate", "image": "migrate:1"},
                    ],
                    "containers": [{"name": "web", "image": "web:1"}],
                },
            },
        },
    }


def test_ignore_rules_leave_out_what_they_name() -> None:
    settings = CleaningSettings.model_validate(
        {
            "ignore_differences": [
                {
                    "group": "apps",
                    "kind": "Deployment",
                    "jsonPointers": ["/spec/replicas", "/metadata/annotations/example.com~1stamp"],
                    "jqPathExpressions": [
                        '.spec.template.spec.initContainers[] | select(.name == "istio-init")',
                        ".spec.template.spec.containers[].image",
                    ],
                    "managedFieldsManagers": ["istio-sidecar-injector"],
                },
                {"group": "apps", "kind": "Deployment", "name": "other", "jsonPointers": ["/spec"]},
                {"kind": "ConfigMap", "jsonPointers": ["/data"]},
            ]
        }
    )
    obj = deployment()
    before = copy.deepcopy(obj)
    cleaned = cleaning.prepare(obj, policy=settings).object
    assert obj == before
    assert cleaned is not None
    spec = cleaned["spec"]
    assert "replicas" not in spec and "paused" not in spec
    assert spec["template"]["spec"]["initContainers"] == [{"name": "migrate", "image": "migrate:1"}]
    assert spec["template"]["spec"]["containers"] == [{"name": "web"}]
    assert cleaned["metadata"]["annotations"] == {"keep": "me"}


@pytest.mark.parametrize(
    "rule",
    [
        {"kind": "Deployment", "jsonPointers": ["spec/replicas"]},
        {"kind": "Deployment", "jqPathExpressions": ["spec.replicas"]},
        {"kind": "Deployment", "jqPathExpressions": [".spec | length"]},
        {"kind": "Deployment", "jqPathExpressions": [".a[] | select(.b != 1)"]},
        {"kind": "Deployment", "jsonpointers": ["/spec"]},
        {"jsonPointers": ["/spec"]},
    ],
)
def test_ignore_rules_are_validated(rule: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        CleaningSettings.model_validate({"ignore_differences": [rule]})


def test_ignore_rules_are_validated_with_the_configuration() -> None:
    from backup2gitops.config import Config

    good = {"generator": {"cleaning": {"ignore_differences": [{"kind": "Secret"}]}}}
    assert Config.model_validate(good).generator.cleaning.ignore_differences[0].kind == "Secret"
    bad = {
        "generator": {"cleaning": {"ignore_differences": [{"kind": "X", "jsonPointers": ["x"]}]}}
    }
    with pytest.raises(ValidationError, match="JSON pointer"):
        Config.model_validate(bad)


@pytest.mark.parametrize(
    ("expression", "removed", "left"),
    [
        (".a.b", 1, {"l": [{"n": 1, "v": 2}, {"n": 2, "v": 3}], "m": {"x/y": 1}}),
        (".l[].v", 2, {"a": {"b": 1}, "l": [{"n": 1}, {"n": 2}], "m": {"x/y": 1}}),
        (".l[]?.v", 2, {"a": {"b": 1}, "l": [{"n": 1}, {"n": 2}], "m": {"x/y": 1}}),
        (".l[1]", 1, {"a": {"b": 1}, "l": [{"n": 1, "v": 2}], "m": {"x/y": 1}}),
        (".l[] | select(.n == 1)", 1, {"a": {"b": 1}, "l": [{"n": 2, "v": 3}], "m": {"x/y": 1}}),
        ('.m["x/y"]', 1, {"a": {"b": 1}, "l": [{"n": 1, "v": 2}, {"n": 2, "v": 3}]}),
        ('.m."x/y"', 1, {"a": {"b": 1}, "l": [{"n": 1, "v": 2}, {"n": 2, "v": 3}]}),
        (".nope.b", 0, {"a": {"b": 1}, "l": [{"n": 1, "v": 2}, {"n": 2, "v": 3}], "m": {"x/y": 1}}),
    ],
)
def test_path_expressions(expression: str, removed: int, left: dict[str, Any]) -> None:
    root = {"a": {"b": 1}, "l": [{"n": 1, "v": 2}, {"n": 2, "v": 3}], "m": {"x/y": 1}}
    assert remove_path(root, parse_path_expression(expression)) == removed
    assert root == left


def test_a_rule_matches_by_group_kind_name_and_namespace() -> None:
    ref = ObjectRef.of(deployment())
    assert IgnoreRule(group="apps", kind="Deployment").matches(ref)
    assert IgnoreRule(group="*", kind="*", namespace="shop", name="w*").matches(ref)
    assert not IgnoreRule(group="", kind="Deployment").matches(ref)
    assert not IgnoreRule(group="apps", kind="Deployment", namespace="other").matches(ref)


def test_a_plain_policy_in_the_configuration_gets_the_settings_defaults() -> None:
    from backup2gitops.config import GeneratorConfig

    config = GeneratorConfig(cleaning=cleaning.CleaningPolicy(secrets="redact"))
    assert isinstance(config.cleaning, CleaningSettings)
    assert config.cleaning.secrets == "redact" and config.cleaning.gitops_owned == "keep"
