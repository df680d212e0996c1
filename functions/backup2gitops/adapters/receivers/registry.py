"""Which class serves which receiver ``type``: the built-ins, then the entry point group.

The configuration already resolved every ``type`` (``config.receivers``): an unknown one never
reaches this module.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from importlib import metadata
from typing import TYPE_CHECKING

from backup2gitops.adapters.receivers.alertmanager import AlertmanagerReceiver
from backup2gitops.adapters.receivers.base import Receiver
from backup2gitops.adapters.receivers.console import ConsoleReceiver
from backup2gitops.adapters.receivers.pagerduty import PagerDutyReceiver
from backup2gitops.adapters.receivers.slack import SlackReceiver
from backup2gitops.adapters.receivers.teams import TeamsReceiver
from backup2gitops.adapters.receivers.webhook import WebhookReceiver
from backup2gitops.config.receivers import ENTRY_POINT_GROUP, AnyReceiverConfig

if TYPE_CHECKING:
    from backup2gitops.config import AlertsConfig

__all__ = ["BUILT_IN", "ENTRY_POINT_GROUP", "build_receiver", "build_receivers", "factory_for"]

Factory = Callable[..., Receiver]

BUILT_IN: dict[str, Factory] = {
    "alertmanager": AlertmanagerReceiver.from_config,
    "slack": SlackReceiver.from_config,
    "teams": TeamsReceiver.from_config,
    "pagerduty": PagerDutyReceiver.from_config,
    "webhook": WebhookReceiver.from_config,
    "console": ConsoleReceiver.from_config,
}


def factory_for(kind: str) -> Factory:
    """A built-in wins over an entry point of the same name (a plug-in cannot hijack it)."""
    if kind in BUILT_IN:
        return BUILT_IN[kind]
    for entry in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if entry.name == kind:
            loaded = entry.load()
            factory = getattr(loaded, "from_config", loaded)
            if not callable(factory):
                raise ValueError(f"entry point {entry.value} is not callable")
            return factory  # type: ignore[no-any-return]
    raise ValueError(
        f"unknown receiver type {kind!r} (built-in or entry point {ENTRY_POINT_GROUP})"
    )


def build_receiver(config: AnyReceiverConfig, *, environ: Mapping[str, str]) -> Receiver:
    return factory_for(config.type)(config, environ=environ)


def build_receivers(
    config: AlertsConfig, *, environ: Mapping[str, str] | None = None
) -> dict[str, Receiver]:
    """Every configured receiver by name. Secrets are read here; messages never include them."""
    env = environ if environ is not None else os.environ
    return {r.name: build_receiver(r, environ=env) for r in config.receivers}
