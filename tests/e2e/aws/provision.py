"""Create in moto's server what a stack of the translated template would create, read from it.

Buckets (versioning, lifecycle rules, encryption; their S3 -> Lambda notification filters are
kept for the test to deliver), the event buses, each rule with its EventPattern and, per target,
an SQS queue standing for the target function (with the rule target's dead-letter queue), the
SQS queues, the DynamoDB tables with their TTL, and the EventBridge Scheduler schedules with
their target's input. Functions, roles, layers and Function URLs are given ARNs only: the
functions run under RIE (tests/e2e/aws/lambda_functions.py), the roles are read by the IAM check.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from tests.e2e.aws.cloudformation import ACCOUNT, REGION, Stack


class MotoSession:
    """A boto3 Session (test credentials, the stack's region) whose clients talk to moto's
    server at ``endpoint``: what ``provision`` and the tests create and read through."""

    def __init__(self, endpoint: str) -> None:
        import boto3

        self.session = boto3.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
        )
        self.endpoint = endpoint

    def client(self, service: str) -> Any:
        return self.session.client(service, endpoint_url=self.endpoint)


HANDLED = {
    "AWS::S3::Bucket",
    "AWS::Events::EventBus",
    "AWS::Events::Rule",
    "AWS::SQS::Queue",
    "AWS::SQS::QueuePolicy",
    "AWS::DynamoDB::Table",
    "AWS::Scheduler::Schedule",
    "AWS::Lambda::Function",
    "AWS::Lambda::LayerVersion",
    "AWS::Lambda::Url",
    "AWS::Lambda::Permission",
    "AWS::Lambda::EventInvokeConfig",
    "AWS::IAM::Role",
}


@dataclass(frozen=True)
class S3Notification:
    bucket: str
    function: str
    suffix: str | None
    prefix: str | None

    def matches(self, bucket: str, key: str) -> bool:
        return (
            bucket == self.bucket
            and (self.suffix is None or key.endswith(self.suffix))
            and (self.prefix is None or key.startswith(self.prefix))
        )


@dataclass
class Provisioned:
    stack: Stack
    target_queues: dict[str, str] = field(default_factory=dict)
    """Function logical id -> URL of the SQS queue standing for it as a rule target."""
    notifications: list[S3Notification] = field(default_factory=list)
    schedules: dict[str, str] = field(default_factory=dict)
    """Schedule logical id -> its name in moto's EventBridge Scheduler."""
    rules: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Rule logical id -> (bus name, rule name)."""


def _lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """CloudFormation's LifecycleConfiguration rule -> S3's PutBucketLifecycleConfiguration."""
    out: dict[str, Any] = {"ID": rule["Id"], "Status": rule["Status"]}
    out["Filter"] = {"Prefix": rule.get("Prefix", "")}
    expiration: dict[str, Any] = {}
    if "ExpirationInDays" in rule:
        expiration["Days"] = int(rule["ExpirationInDays"])
    if rule.get("ExpiredObjectDeleteMarker"):
        expiration["ExpiredObjectDeleteMarker"] = True
    if expiration:
        out["Expiration"] = expiration
    if "NoncurrentVersionExpiration" in rule:
        days = rule["NoncurrentVersionExpiration"]["NoncurrentDays"]
        out["NoncurrentVersionExpiration"] = {"NoncurrentDays": int(days)}
    if "AbortIncompleteMultipartUpload" in rule:
        days = rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"]
        out["AbortIncompleteMultipartUpload"] = {"DaysAfterInitiation": int(days)}
    unknown = set(rule) - {
        "Id",
        "Status",
        "Prefix",
        "ExpirationInDays",
        "ExpiredObjectDeleteMarker",
        "NoncurrentVersionExpiration",
        "AbortIncompleteMultipartUpload",
    }
    if unknown:
        raise NotImplementedError(f"lifecycle rule fields not provisioned: {unknown}")
    return out


def provision(stack: Stack, session: Any) -> Provisioned:
    """Create the stack's resources through ``session`` (a boto3 Session on moto's endpoint)."""
    unknown = {r["Type"] for r in stack.template["Resources"].values()} - HANDLED
    if unknown:
        raise NotImplementedError(f"resource types the test does not create: {unknown}")
    s3, events, sqs = session.client("s3"), session.client("events"), session.client("sqs")
    dynamodb, scheduler = session.client("dynamodb"), session.client("scheduler")
    out = Provisioned(stack)
    prefix = stack.name

    # names and ARNs first: functions, roles, layers, the bus, the queues (Ref/GetAtt need them)
    for logical in stack.resources("AWS::Lambda::Function"):
        name = f"{prefix}-{logical}"
        stack.physical[logical] = name
        stack.arns[logical] = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
    for logical in stack.resources("AWS::IAM::Role"):
        stack.physical[logical] = f"{prefix}-{logical}"
        stack.arns[logical] = f"arn:aws:iam::{ACCOUNT}:role/{prefix}-{logical}"
    for logical in stack.resources("AWS::Lambda::LayerVersion"):
        arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:{prefix}-{logical}:1"
        stack.physical[logical] = arn
    for logical, res in stack.resources("AWS::Lambda::Url").items():
        function = res["Properties"]["TargetFunctionArn"]["Ref"]
        stack.attributes[(logical, "FunctionUrl")] = f"https://{prefix.lower()}-{function}.url/"
    for logical, res in stack.resources("AWS::SQS::Queue").items():
        name = stack.resolve(res["Properties"]).get("QueueName", f"{prefix}-{logical}")
        url = sqs.create_queue(QueueName=name)["QueueUrl"]
        stack.physical[logical] = url
        stack.arns[logical] = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"
    for logical, res in stack.resources("AWS::Events::EventBus").items():
        name = stack.resolve(res["Properties"])["Name"]
        arn = events.create_event_bus(Name=name)["EventBusArn"]
        stack.physical[logical], stack.arns[logical] = name, arn
    for res in stack.resources("AWS::SQS::QueuePolicy").values():
        props = stack.resolve(res["Properties"])
        for url in props["Queues"]:
            sqs.set_queue_attributes(
                QueueUrl=url, Attributes={"Policy": json.dumps(props["PolicyDocument"])}
            )
    for logical, res in stack.resources("AWS::DynamoDB::Table").items():
        props = stack.resolve(res["Properties"])
        name = props.get("TableName", f"{prefix}-{logical}")
        created = dynamodb.create_table(
            TableName=name,
            AttributeDefinitions=props["AttributeDefinitions"],
            KeySchema=props["KeySchema"],
            BillingMode=props.get("BillingMode", "PAY_PER_REQUEST"),
        )
        ttl = props.get("TimeToLiveSpecification")
        if ttl:
            dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)
        stack.physical[logical] = name
        stack.arns[logical] = created["TableDescription"]["TableArn"]

    for logical, res in stack.resources("AWS::S3::Bucket").items():
        props = stack.resolve(res["Properties"])
        name = props.get("BucketName", f"{prefix.lower()}-{logical.lower()}")
        s3.create_bucket(Bucket=name)
        stack.physical[logical] = name
        stack.arns[logical] = f"arn:aws:s3:::{name}"
        if props.get("VersioningConfiguration"):
            s3.put_bucket_versioning(
                Bucket=name, VersioningConfiguration=props["VersioningConfiguration"]
            )
        rules = props.get("LifecycleConfiguration", {}).get("Rules", [])
        if rules:
            s3.put_bucket_lifecycle_configuration(
                Bucket=name,
                LifecycleConfiguration={"Rules": [_lifecycle_rule(r) for r in rules]},
            )
        encryption = props.get("BucketEncryption")
        if encryption:
            s3.put_bucket_encryption(
                Bucket=name,
                ServerSideEncryptionConfiguration={
                    "Rules": [
                        {"ApplyServerSideEncryptionByDefault": r["ServerSideEncryptionByDefault"]}
                        for r in encryption["ServerSideEncryptionConfiguration"]
                    ]
                },
            )
        for config in props.get("NotificationConfiguration", {}).get("LambdaConfigurations", []):
            filters = {
                r["Name"].lower(): r["Value"]
                for r in config.get("Filter", {}).get("S3Key", {}).get("Rules", [])
            }
            function = next(k for k, v in stack.arns.items() if v == config["Function"])
            out.notifications.append(
                S3Notification(name, function, filters.get("suffix"), filters.get("prefix"))
            )

    for logical, res in stack.resources("AWS::Events::Rule").items():
        props = stack.resolve(res["Properties"])
        bus = props.get("EventBusName", "default")
        rule = f"{prefix}-{logical}"[:64]
        events.put_rule(
            Name=rule,
            EventBusName=bus,
            EventPattern=json.dumps(props["EventPattern"]),
            State=props.get("State", "ENABLED"),
        )
        targets = []
        for target in props["Targets"]:
            function = next(k for k, v in stack.arns.items() if v == target["Arn"])
            queue = f"{prefix}-{function}-target"[:80]
            if function not in out.target_queues:
                out.target_queues[function] = sqs.create_queue(QueueName=queue)["QueueUrl"]
            queue_arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{queue}"
            entry = {"Id": target["Id"], "Arn": queue_arn}
            for key in ("DeadLetterConfig", "RetryPolicy", "Input", "InputPath"):
                if key in target:
                    entry[key] = target[key]
            targets.append(entry)
        events.put_targets(Rule=rule, EventBusName=bus, Targets=targets)
        out.rules[logical] = (bus, rule)

    for logical, res in stack.resources("AWS::Scheduler::Schedule").items():
        props = stack.resolve(res["Properties"])
        name = props.get("Name", logical)
        target = props["Target"]
        scheduler.create_schedule(
            Name=name,
            ScheduleExpression=props["ScheduleExpression"],
            FlexibleTimeWindow=props["FlexibleTimeWindow"],
            Target={
                k: target[k] for k in ("Arn", "RoleArn", "Input", "RetryPolicy") if k in target
            },
            **(
                {"ScheduleExpressionTimezone": props["ScheduleExpressionTimezone"]}
                if "ScheduleExpressionTimezone" in props
                else {}
            ),
        )
        out.schedules[logical] = name
    return out


__all__ = ["Provisioned", "S3Notification", "provision"]
