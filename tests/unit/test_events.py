from pathlib import Path

import pytest

from backup2gitops.cli.schemas import schema_documents
from backup2gitops.core import events
from backup2gitops.core.errors import InvalidInput

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


def test_published_schemas_are_current() -> None:
    """`backup2gitops schemas --out schemas` regenerates them; a stale file fails here."""
    expected = schema_documents()
    on_disk = {p.name: p.read_text() for p in SCHEMAS.glob("*.json")}
    assert sorted(on_disk) == sorted(expected)
    stale = [name for name, text in expected.items() if on_disk[name] != text]
    assert not stale, f"run `backup2gitops schemas --out schemas`: stale {stale}"


def test_every_catalog_type_has_a_schema() -> None:
    assert set(events.CATALOG) == {
        events.BACKUP_REQUESTED,
        events.BACKUP_COMPLETED,
        events.BACKUP_FAILED,
        events.GITOPS_GENERATED,
        events.GITOPS_FAILED,
        events.HEALTH_REPORTED,
        events.HEALTH_CHANGED,
        events.BACKUP_STALE,
        events.GITOPS_DRIFTED,
    }


def test_reply_carries_trace_context_and_cluster() -> None:
    parent = events.Event(
        id="1",
        source="/s",
        type=events.BACKUP_COMPLETED,
        cluster="prod",
        traceparent="00-" + "a" * 32 + "-" + "b" * 16 + "-01",
    )
    reply = parent.reply(
        type=events.GITOPS_FAILED,
        source="/x",
        data=events.GitopsFailed(code="c", message="m", retryable=True),
    )
    assert reply.traceparent == parent.traceparent and reply.cluster == "prod"
    assert reply.data["retryable"] is True


def test_invalid_traceparent_is_dropped_not_fatal() -> None:
    event = events.Event(id="1", source="/s", type="t", traceparent="garbage")
    assert event.traceparent is None


def test_stable_ids_repeat_for_the_same_inputs() -> None:
    assert events.stable_event_id("b", "k", "e") == events.stable_event_id("b", "k", "e")
    assert events.stable_event_id("b", "k", "e") != events.stable_event_id("b", "k", "f")


def test_parse_data_names_the_field() -> None:
    event = events.Event(id="1", source="/s", type=events.BACKUP_COMPLETED, data={"cluster": "x"})
    with pytest.raises(InvalidInput, match="backup_id"):
        events.parse_data(event, events.BackupCompleted)
