"""core.trailers: git's trailer rules, exact keys, and no way for a value to add a trailer."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from backup2gitops.core import trailers

T = datetime(2026, 11, 23, 2, 3, tzinfo=UTC)


def message(body: str, **values: str) -> str:
    return trailers.with_trailers(body, {k.replace("_", "-"): v for k, v in values.items()})


def test_written_trailers_read_back() -> None:
    text = trailers.with_trailers(
        "prod: backup b1\n\n3 objects",
        trailers.backup_message_trailers(backup_id="b1", cluster="prod", created_at=T),
    )
    assert text.endswith(
        "Backup-Id: b1\nCluster: prod\nBackup-Created-At: 2026-11-23T02:03:00+00:00\n"
    )
    parsed = trailers.backup_trailers(trailers.parse(text))
    assert parsed == trailers.BackupTrailers(backup_id="b1", cluster="prod", created_at=T)


def test_keys_match_exactly_never_by_substring() -> None:
    found = trailers.parse("t\n\nBackup-Id: daily-2\nBackup-Id-Old: daily\nCluster: prod\n")
    assert found["Backup-Id"] == ["daily-2"]
    assert trailers.backup_trailers(found) == trailers.BackupTrailers("daily-2", "prod")
    assert "daily" not in found["Backup-Id"]


def test_only_the_last_paragraph_holds_trailers() -> None:
    text = "t\n\nCluster: c2\n\nBackup-Id: b1\nCluster: c1\n"
    assert trailers.parse(text) == {"Backup-Id": ["b1"], "Cluster": ["c1"]}


def test_a_last_paragraph_with_prose_has_no_trailers() -> None:
    assert trailers.parse("t\n\nBackup-Id: b1\nnot a trailer line\n") == {}
    assert trailers.parse("Backup-Id: b1\nCluster: c1\n") == {}  # a title, not trailers


def test_a_key_given_twice_is_not_one_backups_commit() -> None:
    found = trailers.parse("t\n\nBackup-Id: b1\nCluster: c1\nCluster: c2\n")
    assert trailers.backup_trailers(found) is None


@pytest.mark.parametrize("value", ["b1\nCluster: c2", "b1\rx", "", "b\x00", "b\u2028c", "b\x7f"])
def test_a_value_that_could_add_a_line_is_refused(value: str) -> None:
    with pytest.raises(trailers.UnsafeTrailer):
        trailers.with_trailers("t", {"Backup-Id": value, "Cluster": "c1"})


def test_control_characters_in_the_body_never_become_a_trailer() -> None:
    """A hostile kind with newlines in the body: the trailers stay the writer's own."""
    body = "c1: backup b1\n\n  ConfigMap\n\nCluster: c2\n\x1b[31m in shop: 1"
    text = message(body, Backup_Id="b1", Cluster="c1")
    assert "\x1b" not in text
    assert trailers.backup_trailers(trailers.parse(text)) == trailers.BackupTrailers("b1", "c1")


def test_clean_line_strips_every_control_character() -> None:
    assert trailers.clean_line("a\nb\r\nc\td\x00e\x1b[0m\u2028f\x85g") == "a b c de[0m f g"


def test_created_at_round_trips_and_bad_values_are_none() -> None:
    assert trailers.parse_created_at(trailers.format_created_at(T)) == T
    assert trailers.parse_created_at("2026-11-23T02:03:00") == T  # naive: UTC
    assert trailers.parse_created_at("yesterday") is None
    assert trailers.parse_created_at(None) is None
