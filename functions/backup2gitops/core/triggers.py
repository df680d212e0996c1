"""Knative Trigger semantics: which Trigger takes which event, and how it retries.

Pure: no I/O. It reads Trigger objects already loaded as mappings (from ``triggers/``) and
follows Knative Eventing: ``spec.filters`` (exact, prefix, suffix, all, any, not; every item in
the list must match) wins over the older ``spec.filter.attributes`` exact-match map; no filter
matches everything. Delivery follows ``spec.delivery`` (retry, backoffPolicy, backoffDelay,
timeout, deadLetterSink) as knative.dev/eventing computes it (v0.50):

- ``pkg/kncloudevents/retries.go`` ``RetryConfigFromDeliverySpec``: a backoff exists only when
  both ``backoffPolicy`` and ``backoffDelay`` are set; exponential waits
  ``backoffDelay * 2^n``, linear ``backoffDelay * n``, where ``n`` is go-retryablehttp's attempt
  number, 0 before the first retry (so PT1S exponential waits 1, 2, 4 ... s; linear 0, 1, 2 ... s).
  ``timeout`` is each attempt's request timeout. ``SelectiveRetry`` retries transport errors,
  5xx, 404, 408, 409 and 429.
- ``pkg/reconciler/broker/trigger/trigger.go``: a Trigger without ``delivery`` uses its Broker's;
  a Trigger without a dead-letter sink uses its Broker's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from backup2gitops.core.errors import Backup2GitopsError

DIALECTS = ("exact", "prefix", "suffix", "all", "any", "not", "cesql")
ATTRIBUTE_NAME = re.compile(r"^[a-z][a-z0-9]*$")
_DURATION = re.compile(
    r"^P(?:(?P<d>\d+(?:\.\d+)?)D)?(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?"
    r"(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)
RETRIED_STATUSES = frozenset({404, 408, 409, 429})


class TriggerError(Backup2GitopsError, ValueError):
    """A Trigger that Knative's webhook would reject."""

    code = "invalid_trigger"


def parse_duration(text: str) -> timedelta:
    """ISO-8601 duration as Knative accepts it (``PT0.2S``, ``PT1M``, ``P1D``)."""
    match = _DURATION.match(text)
    if not match or text in ("P", "PT") or text.endswith("T"):
        raise TriggerError(f"not an ISO-8601 duration: {text!r}")
    parts = {k: float(v) for k, v in match.groupdict().items() if v}
    return timedelta(
        days=parts.get("d", 0),
        hours=parts.get("h", 0),
        minutes=parts.get("m", 0),
        seconds=parts.get("s", 0),
    )


def validate_filter(item: Any) -> None:
    """What Knative's webhook checks and the CRD schema does not."""
    if not isinstance(item, Mapping):
        raise TriggerError(f"a filter must be a map, not {item!r}")
    dialects = [d for d in item if d in DIALECTS]
    if len(dialects) != 1 or len(item) != 1:
        raise TriggerError(f"a filter needs exactly one dialect of {DIALECTS}: {dict(item)}")
    dialect = dialects[0]
    value = item[dialect]
    if dialect in ("exact", "prefix", "suffix"):
        if not isinstance(value, Mapping) or not value:
            raise TriggerError(f"{dialect} needs a map of attribute: value")
        for name in value:
            if not ATTRIBUTE_NAME.match(str(name)):
                raise TriggerError(f"invalid attribute name {name!r}")
    elif dialect == "not":
        validate_filter(value)
    elif dialect in ("all", "any"):
        if not isinstance(value, list) or not value:
            raise TriggerError(f"{dialect} needs a non-empty list of filters")
        for sub in value:
            validate_filter(sub)


def filter_matches(item: Mapping[str, Any], attributes: Mapping[str, str]) -> bool:
    """One ``spec.filters`` item (already checked by ``validate_filter``) against attributes."""
    ((dialect, value),) = item.items()
    if dialect == "not":
        return not filter_matches(value, attributes)
    if dialect == "all":
        return all(filter_matches(sub, attributes) for sub in value)
    if dialect == "any":
        return any(filter_matches(sub, attributes) for sub in value)
    if dialect == "cesql":
        raise TriggerError("the cesql dialect is not supported by the local broker")
    for name, expected in value.items():
        actual = attributes.get(name)
        if actual is None:
            return False
        if dialect == "exact" and actual != expected:
            return False
        if dialect == "prefix" and not actual.startswith(str(expected)):
            return False
        if dialect == "suffix" and not actual.endswith(str(expected)):
            return False
    return True


@dataclass(frozen=True)
class Destination:
    """A Knative ``Destination``: a ``ref`` (a Knative Service's name here), a ``uri``, or both
    (then the uri is resolved against the ref's address, as Knative's URI resolver does)."""

    ref: str | None = None
    uri: str | None = None

    def __str__(self) -> str:
        return (self.ref or "") + (self.uri or "")


@dataclass(frozen=True)
class Delivery:
    retry: int = 0
    backoff_policy: str | None = None
    backoff_delay: timedelta | None = None
    dead_letter: Destination | None = None
    timeout: timedelta | None = None

    def delay_before(self, retry: int) -> timedelta:
        """The wait before retry ``retry`` (0 for the first retry), as Knative computes it."""
        if self.backoff_policy is None or self.backoff_delay is None:
            return timedelta(0)  # retries.go: no backoff unless both are set
        if self.backoff_policy == "linear":
            return self.backoff_delay * retry
        return self.backoff_delay * float(2**retry)


@dataclass(frozen=True)
class Trigger:
    name: str
    broker: str
    subscriber: Destination
    filters: tuple[Mapping[str, Any], ...]
    legacy_attributes: Mapping[str, str]
    delivery: Delivery | None
    """None: the Trigger has no ``spec.delivery``; its Broker's applies."""

    def matches(self, attributes: Mapping[str, str]) -> bool:
        if self.filters:
            return all(filter_matches(item, attributes) for item in self.filters)
        return all(
            attributes.get(name) == value
            for name, value in self.legacy_attributes.items()
            if value != ""  # Knative: an empty value matches any
        )


def parse_destination(obj: Any) -> Destination | None:
    """``{ref: {name}}``, ``{uri}`` or both; None when it names neither."""
    if not isinstance(obj, Mapping):
        return None
    inner = obj.get("ref")
    ref = str(inner["name"]) if isinstance(inner, Mapping) and inner.get("name") else None
    uri = str(obj["uri"]) if obj.get("uri") else None
    if ref is None and uri is None:
        return None
    if ref is None and uri is not None and "://" not in uri:
        raise TriggerError(f"a uri without a ref must be absolute: {uri!r}")
    return Destination(ref=ref, uri=uri)


def parse_delivery(spec: Mapping[str, Any] | None) -> Delivery:
    spec = spec or {}
    policy = spec.get("backoffPolicy")
    if policy is not None and policy not in ("linear", "exponential"):
        raise TriggerError(f"backoffPolicy must be linear or exponential, not {policy!r}")
    delay = spec.get("backoffDelay")
    timeout = parse_duration(str(spec["timeout"])) if spec.get("timeout") else None
    if timeout is not None and timeout <= timedelta(0):
        raise TriggerError("delivery.timeout must be more than zero")
    retry = int(spec.get("retry", 0))
    if retry < 0:
        raise TriggerError("delivery.retry must not be negative")
    return Delivery(
        retry=retry,
        backoff_policy=policy,
        backoff_delay=parse_duration(str(delay)) if delay is not None else None,
        dead_letter=parse_destination(spec.get("deadLetterSink")),
        timeout=timeout,
    )


def parse_trigger(obj: Mapping[str, Any]) -> Trigger:
    if obj.get("kind") != "Trigger":
        raise TriggerError(f"not a Trigger: {obj.get('kind')}")
    spec = obj.get("spec") or {}
    name = str((obj.get("metadata") or {}).get("name", ""))
    subscriber = parse_destination(spec.get("subscriber"))
    if subscriber is None:
        raise TriggerError(f"Trigger {name}: spec.subscriber names no ref or uri")
    filters = tuple(spec.get("filters") or ())
    for item in filters:  # validate up front, as Knative's webhook does
        validate_filter(item)
    legacy = dict(((spec.get("filter") or {}).get("attributes")) or {})
    return Trigger(
        name=name,
        broker=str(spec.get("broker", "default")),
        subscriber=subscriber,
        filters=filters,
        legacy_attributes={str(k): str(v) for k, v in legacy.items()},
        delivery=parse_delivery(spec["delivery"]) if spec.get("delivery") else None,
    )


def routes(triggers: Sequence[Trigger], attributes: Mapping[str, str]) -> list[Trigger]:
    """Every Trigger that takes an event with these attributes (each gets its own copy)."""
    return [t for t in triggers if t.matches(attributes)]
