"""FunctionContext: the configuration and the adapters one function invocation may use.

Built once per process from the configuration (adapters are created lazily, on first use),
or handed in whole by a test or the local runner. It holds no per-event state; ``warm`` holds
what a warm instance may reuse between requests and lose at any time (health-aggregator's
``/metrics`` figures, recomputed at most once per interval).
"""

from __future__ import annotations

import functools
import os
import tempfile
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from backup2gitops.config import load_config

if TYPE_CHECKING:  # the event catalog loads with the first event, not with the CLI's context
    from backup2gitops.adapters.storage import ObjectStore  # with the first store asked for
    from backup2gitops.config import Config
    from backup2gitops.core.events import Event

Publisher = Callable[["Event"], None]
_utc_now: Callable[[], datetime] = functools.partial(datetime.now, UTC)


class FunctionContext:
    def __init__(
        self,
        config: Config,
        *,
        store: ObjectStore | None = None,
        publish: Publisher | None = None,
        environ: Mapping[str, str] | None = None,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.config = config
        self.environ: Mapping[str, str] = environ if environ is not None else os.environ
        self.clock = clock
        self._store = store
        self._publish = publish
        self.warm: dict[str, Any] = {}

    @cached_property
    def store(self) -> ObjectStore:
        from backup2gitops.adapters.storage import open_store

        return self._store if self._store is not None else open_store(self.config.storage)

    def store_for(self, bucket: str) -> ObjectStore | None:
        """The store of ``bucket``: the configured one, or one of ``storage.velero_buckets``
        (Velero's own buckets, read with the same endpoint and credentials); None otherwise."""
        if bucket == self.store.bucket:
            return self.store
        if bucket not in self.config.storage.velero_buckets:
            return None
        stores: dict[str, ObjectStore] = self.warm.setdefault("velero_stores", {})
        if bucket not in stores:
            from backup2gitops.adapters.storage import open_store

            settings = self.config.storage.model_copy(update={"url": f"s3://{bucket}"})
            stores[bucket] = open_store(settings)
        return stores[bucket]

    @cached_property
    def cache_dir(self) -> Path:
        """Scratch space that may survive between invocations of a warm instance (clones)."""
        configured = self.environ.get("BACKUP2GITOPS_CACHE_DIR")
        return Path(configured) if configured else Path(tempfile.gettempdir()) / "backup2gitops"

    @property
    def publish(self) -> Publisher | None:
        """Where replies go instead of the HTTP response: the local broker, or ``$K_SINK``."""
        if self._publish is not None:
            return self._publish
        sink = self.environ.get("K_SINK")
        if sink:
            from backup2gitops.runtime.sink import HttpSink

            self._publish = HttpSink(sink)
        return self._publish


_default: FunctionContext | None = None
_default_lock = threading.Lock()


def default_context(*, default: Path | None = None) -> FunctionContext:
    """The process-wide context from ``$BACKUP2GITOPS_CONFIG``, else the ``default`` file
    (built on first use)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = FunctionContext(load_config(default=default))
        return _default
