from datetime import timedelta

import pytest

from backup2gitops.core.triggers import TriggerError, parse_duration, parse_trigger


def trigger(spec: dict) -> dict:
    base = {"broker": "backup2gitops", "subscriber": {"ref": {"kind": "Service", "name": "fn"}}}
    return {"kind": "Trigger", "metadata": {"name": "t"}, "spec": {**base, **spec}}


def test_filters_dialects() -> None:
    t = parse_trigger(
        trigger(
            {
                "filters": [
                    {"exact": {"type": "io.backup2gitops.backup.completed"}},
                    {"prefix": {"source": "/backup2gitops/"}},
                    {"not": {"suffix": {"subject": "/skip"}}},
                    {"any": [{"exact": {"cluster": "prod"}}, {"exact": {"cluster": "stage"}}]},
                ]
            }
        )
    )
    attrs = {
        "type": "io.backup2gitops.backup.completed",
        "source": "/backup2gitops/x",
        "subject": "prod/1",
        "cluster": "prod",
    }
    assert t.matches(attrs)
    assert not t.matches({**attrs, "cluster": "dev"})
    assert not t.matches({**attrs, "subject": "prod/skip"})
    assert not t.matches({k: v for k, v in attrs.items() if k != "cluster"})


def test_legacy_filter_and_no_filter() -> None:
    assert parse_trigger(trigger({})).matches({"type": "anything"})
    legacy = parse_trigger(trigger({"filter": {"attributes": {"type": "a", "source": ""}}}))
    assert legacy.matches({"type": "a", "source": "whatever"})
    assert not legacy.matches({"type": "b"})


@pytest.mark.parametrize(
    "bad",
    [
        {"filters": [{"exakt": {"type": "a"}}]},
        {"filters": [{"exact": {"type": "a"}, "prefix": {"type": "b"}}]},
        {"filters": [{"exact": {"Type": "a"}}]},
        {"filters": [{"any": []}]},
        {"delivery": {"backoffPolicy": "expo"}},
        {"delivery": {"backoffDelay": "0.2s"}},
        {"subscriber": {}},
        {"subscriber": {"uri": "/relative"}},  # a uri without a ref must be absolute
        {"delivery": {"timeout": "PT0S"}},  # delivery_types.go: t.IsZero() is invalid
        {"delivery": {"retry": -1}},
    ],
)
def test_what_the_knative_webhook_rejects(bad: dict) -> None:
    with pytest.raises(TriggerError):
        parse_trigger(trigger(bad))


def test_backoff_as_knative_computes_it() -> None:
    t = parse_trigger(
        trigger(
            {"delivery": {"retry": 3, "backoffPolicy": "exponential", "backoffDelay": "PT0.5S"}}
        )
    )
    # pkg/kncloudevents/retries.go: backoffDelay * 2^n, n = 0 before the first retry
    assert t.delivery is not None
    assert [t.delivery.delay_before(n).total_seconds() for n in (0, 1, 2)] == [0.5, 1.0, 2.0]
    six = parse_trigger(
        trigger({"delivery": {"retry": 6, "backoffPolicy": "exponential", "backoffDelay": "PT1S"}})
    ).delivery
    assert six is not None
    assert sum(six.delay_before(n).total_seconds() for n in range(6)) == 63  # triggers/README.md
    linear = parse_trigger(
        trigger({"delivery": {"retry": 3, "backoffPolicy": "linear", "backoffDelay": "PT2S"}})
    ).delivery
    assert linear is not None
    assert [linear.delay_before(n).total_seconds() for n in (0, 1, 2)] == [0.0, 2.0, 4.0]
    assert parse_duration("PT1M30S") == timedelta(seconds=90)
    assert parse_duration("P1D") == timedelta(days=1)
