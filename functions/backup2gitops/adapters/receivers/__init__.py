"""Alert receivers: one small class per service behind the ``Receiver`` protocol.

Built-ins: ``alertmanager``, ``slack``, ``teams``, ``pagerduty``, ``webhook``, ``console``.
Third-party receivers register a class (or factory) under the entry point group
``backup2gitops.receivers``; it is called as ``factory(config, environ=...)`` with its
``config.receivers.PluginReceiverConfig`` (``config.settings`` holds its own settings, validated
by the ``settings_model`` the entry point declares) and must return an object with ``name``,
``health_url``, ``repeat_firing`` and ``send(alert)``.
"""

from __future__ import annotations

from backup2gitops.adapters.receivers.base import Receiver, ReceiverError
from backup2gitops.adapters.receivers.registry import ENTRY_POINT_GROUP, build_receivers

__all__ = ["ENTRY_POINT_GROUP", "Receiver", "ReceiverError", "build_receivers"]
