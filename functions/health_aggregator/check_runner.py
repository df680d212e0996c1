"""Running every check at once, each bounded by ``health.check_timeout_s``.

A check is a name, whether it is critical, and a function returning a message (healthy),
or raising ``Degraded`` / any exception (unhealthy). Checks run in a thread pool; one that
has not finished when the timeout passes is reported unhealthy and abandoned (the git and
HTTP probes carry the same timeout, so an abandoned thread ends soon after).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from backup2gitops.core.errors import Backup2GitopsError
from backup2gitops.core.health import CheckResult


class Degraded(Backup2GitopsError):
    """The component works, but not as it should (a check's verdict, never an HTTP answer)."""

    code = "degraded"
    permanent = False


@dataclass(frozen=True)
class Check:
    name: str
    probe: Callable[[], str]
    critical: bool = False


@dataclass(frozen=True)
class Task:
    """Work whose value other results are computed from (a listing, a git log)."""

    name: str
    run: Callable[[], Any]


Outcome = tuple[Any, BaseException | None, float]


def _timed(probe: Callable[[], Any]) -> Outcome:
    started = time.monotonic()
    try:
        value, error = probe(), None
    except Exception as exc:  # noqa: BLE001 - any failure is the check's result
        value, error = None, exc
    return value, error, (time.monotonic() - started) * 1000


def run_all(
    checks: list[Check], tasks: list[Task], *, timeout_s: float
) -> tuple[list[CheckResult], dict[str, Any]]:
    """Check results, and each task's value (or the exception it raised / a TimeoutError)."""
    pool = ThreadPoolExecutor(max_workers=max(1, len(checks) + len(tasks)))
    try:
        check_futures = {c.name: pool.submit(_timed, c.probe) for c in checks}
        task_futures = {t.name: pool.submit(_timed, t.run) for t in tasks}
        wait([*check_futures.values(), *task_futures.values()], timeout=timeout_s)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    results = [_result(c, check_futures[c.name], timeout_s=timeout_s) for c in checks]
    values: dict[str, Any] = {}
    for name, future in task_futures.items():
        if not future.done():
            values[name] = TimeoutError(f"{name} timed out after {timeout_s}s")
        else:
            value, error, _ = future.result()
            values[name] = error if error is not None else value
    return results, values


def _result(check: Check, future: Future[Outcome], *, timeout_s: float) -> CheckResult:
    if not future.done():
        return CheckResult(
            check.name,
            "unhealthy",
            timeout_s * 1000,
            f"timed out after {timeout_s}s",
            check.critical,
        )
    message, error, latency_ms = future.result()
    if isinstance(error, Degraded):
        return CheckResult(check.name, "degraded", latency_ms, str(error), check.critical)
    if error is not None:
        text = (str(error) or type(error).__name__)[:300]
        return CheckResult(check.name, "unhealthy", latency_ms, text, check.critical)
    return CheckResult(check.name, "healthy", latency_ms, str(message)[:300], check.critical)
