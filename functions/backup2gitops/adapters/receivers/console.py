"""The embedded default receiver: one readable line per alert on stdout."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import TextIO

from backup2gitops.adapters.receivers.base import headline
from backup2gitops.config.receivers import ConsoleReceiverConfig
from backup2gitops.core.alerts import Alert


class ConsoleReceiver:
    repeat_firing = False

    def __init__(self, *, name: str = "console", stream: TextIO | None = None) -> None:
        self.name = name
        self.health_url: str | None = None
        self.stream = stream

    @classmethod
    def from_config(
        cls, config: ConsoleReceiverConfig, *, environ: Mapping[str, str]
    ) -> ConsoleReceiver:
        return cls(name=config.name)

    def send(self, alert: Alert) -> None:
        description = alert.annotations.get("description", "")
        line = headline(alert) + (f" — {description}" if description else "")
        print(line, file=self.stream or sys.stdout, flush=True)
