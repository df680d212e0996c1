"""The IAM check: each AWS call a function made (the call recorder's log) as IAM action + resource
ARN, evaluated against the Allow statements of that function's role in the translated template
(action and resource wildcards; no Deny statements, conditions or resource policies exist in it).
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.e2e.aws.cloudformation import ACCOUNT, REGION, Stack

CALL_RECORDER = Path(__file__).with_name("call_recorder")

# S3 operations whose IAM action is not s3:<Operation> on the object
_S3_OBJECT_ACTIONS = {
    "HeadObject": "s3:GetObject",
    "GetObject": "s3:GetObject",
    "PutObject": "s3:PutObject",
    "CreateMultipartUpload": "s3:PutObject",
    "UploadPart": "s3:PutObject",
    "CompleteMultipartUpload": "s3:PutObject",
    "AbortMultipartUpload": "s3:AbortMultipartUpload",
    "DeleteObject": "s3:DeleteObject",
    "CopyObject": "s3:PutObject",
}
_S3_BUCKET_ACTIONS = {
    "ListObjectsV2": "s3:ListBucket",
    "ListObjects": "s3:ListBucket",
    "HeadBucket": "s3:ListBucket",
    "ListObjectVersions": "s3:ListBucketVersions",
    "ListMultipartUploads": "s3:ListBucketMultipartUploads",
}


@dataclass(frozen=True)
class Call:
    function: str
    action: str
    resource: str

    def __str__(self) -> str:
        return f"{self.function}: {self.action} on {self.resource}"


def calls(log: Path) -> list[Call]:
    """The recorded API calls as (function, IAM action, resource ARN), in order."""
    out: list[Call] = []
    if not log.exists():
        return out
    for line in log.read_text().splitlines():
        record = json.loads(line)
        out.extend(_as_iam(record))
    return out


def _as_iam(record: dict[str, Any]) -> list[Call]:
    fn, service, op, p = (
        record["function"],
        record["service"],
        record["operation"],
        record["params"],
    )
    if service == "s3":
        bucket = p.get("Bucket", "")
        if op == "DeleteObjects":
            return [Call(fn, "s3:DeleteObject", f"arn:aws:s3:::{bucket}/{k}") for k in p["Keys"]]
        if op in _S3_OBJECT_ACTIONS:
            action = _S3_OBJECT_ACTIONS[op]
            if op in ("GetObject", "HeadObject") and p.get("VersionId"):
                action = "s3:GetObjectVersion"
            return [Call(fn, action, f"arn:aws:s3:::{bucket}/{p.get('Key', '')}")]
        return [Call(fn, _S3_BUCKET_ACTIONS.get(op, f"s3:{op}"), f"arn:aws:s3:::{bucket}")]
    if service == "events" and op == "PutEvents":
        return [
            Call(fn, "events:PutEvents", _bus_arn(name)) for name in sorted(set(p["EventBusNames"]))
        ]
    if service == "secretsmanager":
        return [Call(fn, f"secretsmanager:{op}", p.get("SecretId", "*"))]
    if service == "dynamodb":
        table = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{p.get('TableName', '')}"
        return [Call(fn, f"dynamodb:{op}", table)]
    return [Call(fn, f"{service}:{op}", "*")]


def _bus_arn(name: str) -> str:
    return (
        name if name.startswith("arn:") else f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{name}"
    )


def _statements(stack: Stack, role: str) -> list[dict[str, Any]]:
    props = stack.resolve(stack.template["Resources"][role]["Properties"])
    out: list[dict[str, Any]] = []
    for policy in props.get("Policies", []):
        statements = policy["PolicyDocument"]["Statement"]
        out.extend(statements if isinstance(statements, list) else [statements])
    return out


def _listed(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def allowed(stack: Stack, role: str, call: Call) -> bool:
    for statement in _statements(stack, role):
        if statement.get("Effect") != "Allow" or "Condition" in statement:
            continue
        actions = _listed(statement.get("Action", []))
        resources = _listed(statement.get("Resource", []))
        if any(fnmatch.fnmatchcase(call.action.lower(), a.lower()) for a in actions) and any(
            fnmatch.fnmatchcase(call.resource, r) for r in resources
        ):
            return True
    return False


def role_of(stack: Stack, function_name: str) -> str:
    """The role logical id of the function whose physical name is ``function_name``."""
    logical = next(k for k, v in stack.physical.items() if v == function_name)
    role = stack.template["Resources"][logical]["Properties"]["Role"]["Fn::GetAtt"][0]
    return str(role)


def denied(stack: Stack, made: list[Call]) -> list[str]:
    """Each call the caller's role does not allow, as 'function: action on resource'."""
    return [str(c) for c in made if not allowed(stack, role_of(stack, c.function), c)]


__all__ = ["CALL_RECORDER", "Call", "allowed", "calls", "denied", "role_of"]
