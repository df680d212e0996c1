"""HTTP health probes: MinIO's cluster health, Alertmanager's ``/-/ready``, the Kubernetes API's
``/readyz`` and the Ready condition of Knative Services (plain HTTPS with the pod's token; no
kubernetes client is needed for two GETs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import requests

from backup2gitops.core import errors


class ProbeError(errors.Backup2GitopsError):
    """The probe failed; the message names the status, never a credential."""

    code = "probe_failed"
    permanent = False


def get(
    url: str,
    *,
    timeout_s: float,
    token: str | None = None,
    verify: bool | str = True,
) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        response = requests.get(url, headers=headers, timeout=timeout_s, verify=verify)
    except requests.Timeout as exc:
        raise ProbeError(f"timed out after {timeout_s}s") from exc
    except requests.RequestException as exc:
        raise ProbeError(f"unreachable ({type(exc).__name__})") from exc
    if response.status_code >= 300:
        raise ProbeError(f"HTTP {response.status_code}")
    return response


def probe_url(url: str, *, timeout_s: float) -> str:
    response = get(url, timeout_s=timeout_s)
    return f"HTTP {response.status_code}"


def verify_for(ca: Path | None) -> bool | str:
    return str(ca) if ca is not None and ca.exists() else True


def kube_readyz(base: str, *, timeout_s: float, token: str | None, verify: bool | str) -> str:
    response = get(f"{base.rstrip('/')}/readyz", timeout_s=timeout_s, token=token, verify=verify)
    return response.text.strip()[:80] or "ok"


def knative_service_ready(
    base: str,
    *,
    namespace: str,
    name: str,
    timeout_s: float,
    token: str | None,
    verify: bool | str,
) -> tuple[bool, str]:
    url = f"{base.rstrip('/')}/apis/serving.knative.dev/v1/namespaces/{namespace}/services/{name}"
    service: dict[str, Any] = get(url, timeout_s=timeout_s, token=token, verify=verify).json()
    for condition in service.get("status", {}).get("conditions", []):
        if condition.get("type") == "Ready":
            ready = condition.get("status") == "True"
            reason = condition.get("reason") or condition.get("message") or ""
            return ready, "Ready" if ready else f"not ready: {reason}".strip()
    return False, "no Ready condition yet"
