"""SigV4 for a Lambda Function URL with ``AuthType: AWS_IAM`` (health-aggregator's, template.yaml):
``backup2gitops status --url https://<id>.lambda-url.<region>.on.aws/`` signs its GET with the
caller's AWS credentials (botocore's default chain: environment, profile, SSO, instance role),
service ``lambda``, as the Function URL requires. The caller needs ``lambda:InvokeFunctionUrl``.
"""

from __future__ import annotations

import re
from typing import Any

from backup2gitops.core.errors import Backup2GitopsError

FUNCTION_URL = re.compile(
    r"^https://[^./]+\.lambda-url\.(?P<region>[a-z0-9-]+)\.on\.aws(?:[/:?]|$)"
)


class SigningError(Backup2GitopsError, ValueError):
    """No AWS credentials to sign with."""

    code = "no_aws_credentials"


def function_url_region(url: str) -> str | None:
    """The region of a Lambda Function URL; None for any other URL."""
    match = FUNCTION_URL.match(url)
    return match.group("region") if match else None


def sigv4_headers(
    method: str, url: str, *, region: str, headers: dict[str, str], credentials: Any = None
) -> dict[str, str]:
    """``headers`` plus the SigV4 ones (Authorization, X-Amz-Date, X-Amz-Security-Token with
    temporary credentials) for ``method url`` with an empty body."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.session import Session

    credentials = credentials or Session().get_credentials()
    if credentials is None:
        raise SigningError(
            f"{url} is a Lambda Function URL (AWS_IAM): it needs AWS credentials to sign "
            "with (AWS_PROFILE, AWS_ACCESS_KEY_ID, ...), and none were found"
        )
    request = AWSRequest(method=method, url=url, headers=dict(headers), data=b"")
    SigV4Auth(credentials.get_frozen_credentials(), "lambda", region).add_auth(request)
    return {k: str(v) for k, v in request.headers.items()}


__all__ = ["FUNCTION_URL", "SigningError", "function_url_region", "sigv4_headers"]
