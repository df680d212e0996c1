"""Offline checks of template.yaml (AWS SAM).

* cfn-lint on template.yaml (cfn-lint 1.51 also expands the SAM transform itself);
* the SAM translator, run here offline (``samtranslator.translator.transform.transform``) with a
  stub managed-policy loader and ``AWS_DEFAULT_REGION=us-east-1`` -- cfn-lint >= 1.54 no longer
  does this -- after replacing the local CodeUri/ContentUri by S3 URIs as ``sam package`` would;
* cfn-lint on the translated (plain CloudFormation) template;
* the wiring and least-privilege policies the design asks for, read from the template.

Not checked: that the stack deploys (IAM, quotas, names), the layer build (``sam build``), or
that the handlers exist (functions/ is another worktree's job).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from b2g_deploy_checks import REPO

TEMPLATE = REPO / "template.yaml"

HANDLERS = {
    "BackupCompleteFunction": "backup_complete.handler.lambda_handler",
    "GitopsGeneratorFunction": "gitops_generator.handler.lambda_handler",
    "ClusterBackupFunction": "cluster_backup.handler.lambda_handler",
    "HealthAggregatorFunction": "health_aggregator.handler.lambda_handler",
    "AlertRouterFunction": "alert_router.handler.lambda_handler",
}
ALERT_TYPES = {
    "io.backup2gitops.backup.failed",
    "io.backup2gitops.gitops.failed",
    "io.backup2gitops.gitops.drifted",
    "io.backup2gitops.backup.stale",
    "io.backup2gitops.health.changed",
    "io.backup2gitops.gitops.generated",
}
# AWS managed policies SAM may attach by itself (the stub loader's whole world).
MANAGED_POLICIES = {
    "AWSLambdaBasicExecutionRole": (
        "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
    ),
    "AWSXrayWriteOnlyAccess": "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
    "AWSXRayDaemonWriteAccess": "arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess",
}


def cfn_lint(path: Path) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("cfn-lint")
    cmd = [exe] if exe else [sys.executable, "-m", "cfnlint"]
    return subprocess.run(
        [*cmd, str(path)], capture_output=True, text=True, check=False, timeout=300
    )


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    from samtranslator.yaml_helper import yaml_parse

    return yaml_parse(TEMPLATE.read_text())


class StubManagedPolicyLoader:
    """Stands in for samtranslator's ManagedPolicyLoader, which would call IAM ListPolicies."""

    def __init__(self) -> None:
        self.asked = 0

    def load(self) -> dict[str, str]:
        self.asked += 1
        return dict(MANAGED_POLICIES)


@pytest.fixture(scope="module")
def translated(
    template: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    import copy
    import os

    from samtranslator.translator.transform import transform

    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    tpl = copy.deepcopy(template)
    # what `sam package` does: local code locations -> S3 URIs
    tpl["Globals"]["Function"]["CodeUri"] = "s3://sam-artifacts/backup2gitops/functions.zip"
    for layer in ("DependenciesLayer", "KubernetesDependenciesLayer"):
        tpl["Resources"][layer]["Properties"]["ContentUri"] = (
            f"s3://sam-artifacts/backup2gitops/{layer}.zip"
        )
    out = transform(tpl, {}, StubManagedPolicyLoader())
    path = tmp_path_factory.mktemp("sam") / "translated.json"
    path.write_text(json.dumps(out, indent=1))
    out["__path__"] = str(path)
    return out


def resources(tpl: dict[str, Any], rtype: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in tpl["Resources"].items() if v["Type"] == rtype}


def test_cfn_lint_template() -> None:
    proc = cfn_lint(TEMPLATE)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_sam_translator_offline(translated: dict[str, Any]) -> None:
    fns = resources(translated, "AWS::Lambda::Function")
    assert set(fns) == set(HANDLERS)
    for name, fn in fns.items():
        assert fn["Properties"]["Handler"] == HANDLERS[name]
        assert fn["Properties"]["Runtime"].startswith("python3.")
    assert resources(translated, "AWS::Lambda::Url")
    assert len(resources(translated, "AWS::Lambda::EventInvokeConfig")) == len(HANDLERS)
    assert len(resources(translated, "AWS::Scheduler::Schedule")) == 3  # alert-router's tick


def test_cfn_lint_translated(translated: dict[str, Any]) -> None:
    proc = cfn_lint(Path(translated["__path__"]))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_globals(template: dict[str, Any]) -> None:
    g = template["Globals"]["Function"]
    assert g["CodeUri"] == "functions/"
    assert g["Environment"]["Variables"]["BACKUP2GITOPS_CONFIG"] == {"Ref": "Backup2gitopsConfig"}
    assert "Layers" not in g  # per function: one layer per dependency set
    on_failure = g["EventInvokeConfig"]["DestinationConfig"]["OnFailure"]
    assert on_failure == {"Type": "SQS", "Destination": {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}}
    assert g["EventInvokeConfig"]["MaximumRetryAttempts"] >= 0
    layer = template["Resources"]["DependenciesLayer"]
    req = REPO / layer["Properties"]["ContentUri"] / "requirements.txt"
    assert req.resolve() == (REPO / "requirements-lambda.txt").resolve()


def test_handlers_and_events(template: dict[str, Any]) -> None:
    res = template["Resources"]
    for name, handler in HANDLERS.items():
        assert res[name]["Properties"]["Handler"] == handler
    bc = res["BackupCompleteFunction"]["Properties"]["Events"]
    s3_suffixes = {
        e["Properties"]["Filter"]["S3Key"]["Rules"][0]["Value"]
        for e in bc.values()
        if e["Type"] == "S3"
    }
    assert s3_suffixes == {"manifest.json", "velero-backup.json"}
    assert all(
        e["Properties"]["Bucket"] == {"Ref": "BackupBucket"}
        for e in bc.values()
        if e["Type"] == "S3"
    )
    (eb,) = [e for e in bc.values() if e["Type"] == "EventBridgeRule"]
    assert eb["Properties"]["Pattern"]["source"] == ["aws.s3"]
    assert eb["Properties"]["Pattern"]["detail-type"] == ["Object Created"]
    assert eb["Properties"]["Pattern"]["detail"]["bucket"]["name"] == [
        {"Ref": "ExistingBucketName"}
    ]

    def rule_types(fn: str) -> set[str]:
        out: set[str] = set()
        for e in res[fn]["Properties"]["Events"].values():
            if e["Type"] == "EventBridgeRule" and "EventBusName" in e["Properties"]:
                assert e["Properties"]["EventBusName"] == {"Ref": "EventBus"}
                out |= set(e["Properties"]["Pattern"]["detail-type"])
        return out

    assert rule_types("GitopsGeneratorFunction") == {"io.backup2gitops.backup.completed"}
    assert rule_types("AlertRouterFunction") == ALERT_TYPES
    for fn in ("ClusterBackupFunction", "HealthAggregatorFunction", "AlertRouterFunction"):
        kinds = {e["Type"] for e in res[fn]["Properties"]["Events"].values()}
        assert "ScheduleV2" in kinds
    assert (
        res["HealthAggregatorFunction"]["Properties"]["FunctionUrlConfig"]["AuthType"] == "AWS_IAM"
    )
    assert res["EventBus"]["Type"] == "AWS::Events::EventBus"
    assert res["IdempotencyTable"]["Type"] == "AWS::DynamoDB::Table"


def test_policies_are_least_privilege(translated: dict[str, Any]) -> None:
    for name, role in resources(translated, "AWS::IAM::Role").items():
        arns = set(role["Properties"].get("ManagedPolicyArns", []))
        assert arns <= set(MANAGED_POLICIES.values()), (name, arns)
        for policy in role["Properties"].get("Policies", []):
            if "Fn::If" in policy:  # a secret's policy exists only when its ARN is given
                policy = policy["Fn::If"][1]
            for st in policy["PolicyDocument"]["Statement"]:
                actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
                assert not any(a == "*" or a.endswith(":*") for a in actions), (name, actions)
                resources_ = (
                    st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]
                )
                assert "*" not in resources_, (name, st)
                if any(a.startswith("secretsmanager:") for a in actions):
                    assert actions == ["secretsmanager:GetSecretValue"]
                    assert all(
                        isinstance(r, dict) and r.get("Ref", "").endswith("SecretArn")
                        for r in resources_
                    ), (name, st)
                if any(a.startswith("dynamodb:") for a in actions):
                    assert name.startswith("AlertRouter"), name
                if any(a in ("s3:PutObject", "s3:DeleteObject") for a in actions):
                    # writes only where each function keeps its objects
                    allowed = {
                        "ClusterBackup": ("/backups/*",),
                        "AlertRouter": (
                            "/state/alerts/*",
                            "/state/refusals/*",
                            "/state/deliveries/*",
                        ),
                        "HealthAggregator": ("/state/*",),
                    }
                    (where,) = [v for k, v in allowed.items() if name.startswith(k)]
                    assert all(r["Fn::Sub"].endswith(where) for r in resources_), (name, st)


def test_outputs(template: dict[str, Any]) -> None:
    outs = template["Outputs"]
    for key in ("BackupBucketName", "EventBusName", "HealthUrl", "DeadLetterQueueUrl"):
        assert key in outs


def requirement_lines(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if line and not line.startswith("#")]


def test_one_layer_per_dependency_set_and_only_cluster_backup_carries_kubernetes(
    template: dict[str, Any],
) -> None:
    res = template["Resources"]
    layers = {
        name: [layer for layer in res[name]["Properties"]["Layers"] if "Ref" in layer]
        for name in HANDLERS
    }
    assert layers.pop("ClusterBackupFunction") == [{"Ref": "KubernetesDependenciesLayer"}]
    assert all(found == [{"Ref": "DependenciesLayer"}] for found in layers.values()), layers
    base = requirement_lines(REPO / "requirements-lambda.txt")
    kube = res["KubernetesDependenciesLayer"]["Properties"]["ContentUri"]
    with_kube = requirement_lines(REPO / kube / "requirements.txt")
    assert not any(line.startswith("kubernetes") for line in base)
    # the lines cluster-backup needs, as the base layer pins them, plus the client
    client = [line for line in with_kube if line.startswith("kubernetes>=")]
    assert len(client) == 1
    assert set(with_kube) - set(client) <= set(base)


def test_every_secret_arn_is_optional_and_grants_nothing_when_empty(
    template: dict[str, Any], translated: dict[str, Any]
) -> None:
    params = {k: v for k, v in template["Parameters"].items() if k.endswith("SecretArn")}
    assert len(params) == 4
    for name, param in params.items():
        assert param["Default"] == "", name
        assert param["AllowedPattern"].startswith("^$|"), name
    for name in HANDLERS:
        env = template["Resources"][name]["Properties"]["Environment"]["Variables"]
        for key, value in env.items():
            if key.endswith("_SECRET_ARN"):
                assert "Fn::If" in value and value["Fn::If"][2] == {"Ref": "AWS::NoValue"}, key
    for role in resources(translated, "AWS::IAM::Role").values():
        for policy in role["Properties"].get("Policies", []):
            if "Fn::If" not in policy:
                assert "secretsmanager" not in json.dumps(policy), policy


def test_the_bucket_expires_noncurrent_versions_and_delivery_records(
    template: dict[str, Any],
) -> None:
    from backup2gitops.config import IdempotencyConfig

    rules = template["Resources"]["BackupBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    by_id = {rule["Id"]: rule for rule in rules}
    assert all(rule["Status"] == "Enabled" for rule in rules)
    assert by_id["noncurrent-versions"]["NoncurrentVersionExpiration"] == {
        "NoncurrentDays": {"Ref": "NoncurrentVersionDays"}
    }
    assert by_id["expired-delete-markers"]["ExpiredObjectDeleteMarker"] is True
    records = by_id["delivery-records"]
    default = IdempotencyConfig()
    assert records["Prefix"] == default.prefix
    assert records["ExpirationInDays"] * 86400 > default.expires_after.total_seconds()
    assert not any(rule.get("Prefix", "").startswith("state/alerts") for rule in rules)


def test_no_tracing_promise_and_a_metrics_namespace(template: dict[str, Any]) -> None:
    g = template["Globals"]["Function"]
    assert "Tracing" not in g  # no X-Ray segments are recorded (docs/decisions.md)
    assert g["Environment"]["Variables"]["POWERTOOLS_METRICS_NAMESPACE"] == "backup2gitops"


def test_every_rule_target_and_schedule_has_the_dead_letter_queue(
    translated: dict[str, Any],
) -> None:
    dlq = {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}
    for name, rule in resources(translated, "AWS::Events::Rule").items():
        for target in rule["Properties"]["Targets"]:
            assert target.get("DeadLetterConfig") == {"Arn": dlq}, name
    for name, schedule in resources(translated, "AWS::Scheduler::Schedule").items():
        assert schedule["Properties"]["Target"].get("DeadLetterConfig") == {"Arn": dlq}, name
    (policy,) = resources(translated, "AWS::SQS::QueuePolicy").values()
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}


def test_names_come_from_the_stack_and_the_schedule_names_the_cluster(
    template: dict[str, Any], translated: dict[str, Any]
) -> None:
    bucket = template["Resources"]["BackupBucket"]["Properties"]["BucketName"]
    assert bucket["Fn::Sub"].startswith("${AWS::StackName}-")
    for schedule in resources(translated, "AWS::Scheduler::Schedule").values():
        assert schedule["Properties"]["Name"]["Fn::Sub"].startswith("${AWS::StackName}-")
    daily = template["Resources"]["ClusterBackupFunction"]["Properties"]["Events"]["Daily"]
    assert "${ClusterName}" in daily["Properties"]["Input"]["Fn::Sub"]
