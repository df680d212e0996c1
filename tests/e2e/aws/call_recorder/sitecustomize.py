"""Loaded by every function process the AWS end-to-end test starts (this folder is last on its
PYTHONPATH): each botocore API call is appended, as one JSON line, to ``$B2G_AWS_CALL_LOG``
with the function's name, the service, the operation and the parameters that name resources.
The test maps them to IAM actions and resource ARNs and checks them against the role policies
of the translated template (tests/e2e/aws/iam.py). Nothing else changes."""

from __future__ import annotations

import json
import os

_LOG = os.environ.get("B2G_AWS_CALL_LOG")
_NAMING = ("Bucket", "Key", "Prefix", "SecretId", "TableName", "Name", "QueueUrl", "VersionId")


def _install(log: str) -> None:
    try:
        import botocore.client
    except ImportError:  # no botocore: nothing can call AWS
        return
    original = botocore.client.BaseClient._make_api_call

    def recorded(self, operation_name, api_params):  # type: ignore[no-untyped-def]
        params = {k: api_params[k] for k in _NAMING if isinstance(api_params.get(k), str)}
        if operation_name == "PutEvents":
            params["EventBusNames"] = [
                e.get("EventBusName", "default") for e in api_params["Entries"]
            ]
        if operation_name == "DeleteObjects":
            params["Keys"] = [o["Key"] for o in api_params["Delete"]["Objects"]]
        line = {
            "function": os.environ.get("AWS_LAMBDA_FUNCTION_NAME", ""),
            "service": self.meta.service_model.signing_name,
            "operation": operation_name,
            "params": params,
        }
        with open(log, "a", encoding="utf-8") as out:
            out.write(json.dumps(line) + "\n")
        return original(self, operation_name, api_params)

    botocore.client.BaseClient._make_api_call = recorded  # type: ignore[method-assign]


if _LOG:
    _install(_LOG)
