"""cluster-backup's ClusterRole is generated from the configuration's resource filters
(``backup2gitops config rbac``), and the committed one is that command's output for the shipped
configuration: a change to ``cluster_backup`` in knative/base/config.yaml without regenerating
the role fails here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from backup2gitops.cli.config_rbac import builtin_resources, cluster_role
from backup2gitops.config import ClusterBackupConfig

ROOT = Path(__file__).resolve().parents[2]
ROLE = ROOT / "knative" / "base" / "cluster-backup-role.yaml"
CONFIG = ROOT / "knative" / "base" / "config.yaml"


def readable(role: dict[str, object]) -> set[tuple[str, str]]:
    rules = role["rules"]
    assert isinstance(rules, list)
    return {(g, r) for rule in rules for g in rule["apiGroups"] for r in rule["resources"]}


def config_rbac(*args: str) -> str:
    """``backup2gitops config rbac --config <the shipped config> ARGS``'s output."""
    return subprocess.run(
        [sys.executable, "-m", "backup2gitops", "config", "rbac", "--config", str(CONFIG), *args],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT / "functions")},
        timeout=120,
    ).stdout


def test_the_committed_role_is_the_commands_output_for_the_shipped_config() -> None:
    out = config_rbac()
    assert yaml.safe_load(ROLE.read_text()) == yaml.safe_load(out)
    assert ROLE.read_text().endswith(out)  # the file is the output under its header comment


def test_secrets_only_when_they_are_backed_up() -> None:
    resources = builtin_resources()
    default = readable(cluster_role(resources, config=ClusterBackupConfig()))
    assert ("", "secrets") not in default
    assert {("", "configmaps"), ("apps", "deployments"), ("", "namespaces")} <= default
    # the default exclusions are never listed, so never granted; Endpoints and EndpointSlices
    # are listed: a hand-written one (a selector-less Service's backends) belongs in git
    assert not {("", "events"), ("coordination.k8s.io", "leases")} & default
    assert {("", "endpoints"), ("discovery.k8s.io", "endpointslices")} <= default
    with_secrets = readable(
        cluster_role(resources, config=ClusterBackupConfig(include_secrets=True))
    )
    assert with_secrets == default | {("", "secrets")}
    for rule in cluster_role(resources, config=ClusterBackupConfig())["rules"]:
        assert rule["verbs"] == ["get", "list"] and "*" not in rule["apiGroups"]


def test_the_filters_narrow_the_role() -> None:
    config = ClusterBackupConfig(
        include_resources=["deployments.apps", "configmaps", "secrets"],
        exclude_resources=["configmaps"],
    )
    # secrets named but include_secrets false: still not readable
    assert readable(cluster_role(builtin_resources(), config=config)) == {("apps", "deployments")}


def test_the_role_prints_as_a_name_and_a_table() -> None:
    assert (
        config_rbac("-o", "name")
        == "clusterrole.rbac.authorization.k8s.io/backup2gitops-cluster-backup\n"
    )
    table = config_rbac("-o", "table").splitlines()
    assert table[0].startswith("API GROUP") and any(line.startswith("apps  ") for line in table)
    assert not any("secrets" in line for line in table)
