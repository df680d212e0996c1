"""Fixtures shared by every tier (the servers themselves live in ``recording.py``)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.recording import Recorder, recording_server


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    with recording_server() as rec:
        yield rec


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Under CI every server is installed by scripts/install-test-deps.sh, so a test skipped for a
    missing binary means a broken install step: fail it instead of hiding it."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.skipped and os.environ.get("CI") == "true" and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped under CI (a missing server?): {report.longrepr}"
