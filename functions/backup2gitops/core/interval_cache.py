"""A value recomputed at most once per interval, on an injected clock.

PURE: no I/O (a lock, no sleeping, no wall clock of its own). health-aggregator keeps its
``/metrics`` figures in one: Prometheus may scrape every few seconds, from several replicas of
Prometheus at once, but the git fetch and the bucket listings behind the figures run at most once
per ``health.metrics_cache_s``. Concurrent callers of a stale value wait for the one computing it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Generic, TypeVar

T = TypeVar("T")


class IntervalCache(Generic[T]):
    def __init__(
        self, compute: Callable[[], T], *, interval: timedelta, clock: Callable[[], datetime]
    ) -> None:
        self._compute = compute
        self._interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        self._value: tuple[datetime, T] | None = None

    def get(self) -> T:
        """The cached value while younger than the interval; else a fresh one (an exception is
        not cached: the next call tries again)."""
        with self._lock:
            now = self._clock()
            if self._value is not None:
                computed_at, value = self._value
                if computed_at <= now < computed_at + self._interval:
                    return value
            value = self._compute()
            self._value = (now, value)
            return value
