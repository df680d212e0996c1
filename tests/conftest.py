"""Fixtures shared by every tier (the servers themselves live in ``recording.py``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.recording import Recorder, recording_server


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    with recording_server() as rec:
        yield rec
