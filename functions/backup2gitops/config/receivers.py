"""``alerts.receivers[]``: one typed model per receiver type, chosen by ``type``.

A tagged union: the built-in types each have their own model (required fields required, unknown
keys refused); any other ``type`` must be an installed entry point of the group
``backup2gitops.receivers``. A plug-in declares its settings as a pydantic model in a
``settings_model`` attribute of what the entry point loads; without one, it takes no settings.
So a receiver that would fail at delivery (``type: opsgenie``, a Slack receiver without ``url``)
fails when the configuration is loaded instead.

Not pure: resolving a plug-in type reads installed package metadata and imports the plug-in.
"""

from collections.abc import Mapping
from importlib import metadata
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PrivateAttr,
    Tag,
    ValidationError,
    model_validator,
)

from backup2gitops.config.types import FieldProblem, PlainUrl, SecretRef, Strict, UrlOrSecret

ENTRY_POINT_GROUP = "backup2gitops.receivers"
BUILT_IN_TYPES = ("alertmanager", "slack", "teams", "pagerduty", "webhook", "console")
PLUGIN_TAG = "plugin"
PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"


class ReceiverBase(Strict):
    """What every receiver understands."""

    name: str = Field(pattern=r"^[A-Za-z0-9][-A-Za-z0-9_.]*$")
    timeout_s: float = Field(default=10.0, gt=0)
    send_resolved: bool = True
    health_url: PlainUrl | None = Field(
        default=None, description="checked by the health-aggregator (Alertmanager: .../-/ready)"
    )
    optional: bool = Field(
        default=False,
        description="true: while a credential it names is not set (on Lambda: its *SecretArn "
        "parameter left empty) the receiver is not configured and its deliveries are skipped; "
        "false: alert-router refuses to start without it",
    )

    def missing_credentials(self, environ: Mapping[str, str]) -> list[tuple[str, SecretRef]]:
        """The fields holding a secret reference that is not set, with the reference."""
        return [
            (name, value)
            for name in type(self).model_fields
            if isinstance(value := getattr(self, name), SecretRef) and value.reveal(environ) is None
        ]


class AlertmanagerReceiverConfig(ReceiverBase):
    type: Literal["alertmanager"]
    url: UrlOrSecret = Field(
        description="base URL, e.g. http://alertmanager:9093 (a SecretRef if it is secret)"
    )
    bearer_token: SecretRef | None = None
    firing_ttl_s: float = Field(default=86_400.0, gt=0)
    generator_url: PlainUrl | None = Field(default=None, description="link shown in Alertmanager")


class WebhookUrlReceiverConfig(ReceiverBase):
    """A receiver whose webhook URL is itself a credential (it carries the token)."""

    url: SecretRef = Field(
        description="the webhook URL is a credential: {env: NAME} or {file: PATH}"
    )


class SlackReceiverConfig(WebhookUrlReceiverConfig):
    type: Literal["slack"]


class TeamsReceiverConfig(WebhookUrlReceiverConfig):
    type: Literal["teams"]


class PagerDutyReceiverConfig(ReceiverBase):
    type: Literal["pagerduty"]
    routing_key: SecretRef
    url: PlainUrl = PAGERDUTY_EVENTS_URL
    source: str = "backup2gitops"


class WebhookReceiverConfig(ReceiverBase):
    type: Literal["webhook"]
    url: UrlOrSecret
    secret: SecretRef | None = Field(default=None, description="HMAC-SHA256 signing key")


class ConsoleReceiverConfig(ReceiverBase):
    type: Literal["console"] = "console"


def installed_receiver_types() -> dict[str, metadata.EntryPoint]:
    """Entry points of ``backup2gitops.receivers`` that a built-in name does not shadow."""
    return {
        entry.name: entry
        for entry in metadata.entry_points(group=ENTRY_POINT_GROUP)
        if entry.name not in BUILT_IN_TYPES
    }


class PluginReceiverConfig(ReceiverBase):
    """A receiver served by an installed plug-in; its settings are checked by its own model."""

    model_config = ConfigDict(extra="allow")
    type: str
    _settings: BaseModel | None = PrivateAttr(default=None)

    @property
    def settings(self) -> BaseModel | None:
        """The plug-in's validated settings (its ``settings_model``), or None if it has none."""
        return self._settings

    @model_validator(mode="after")
    def _resolved(self) -> "PluginReceiverConfig":
        installed = installed_receiver_types()
        entry = installed.get(self.type)
        if entry is None:
            raise FieldProblem(
                "type",
                message=f"unknown receiver type {self.type!r}: built-in {', '.join(BUILT_IN_TYPES)}; "
                f"installed entry points ({ENTRY_POINT_GROUP}): "
                f"{', '.join(sorted(installed)) or 'none'}",
            )
        try:
            loaded = entry.load()
        except Exception as exc:  # a broken plug-in: say which, at load time
            raise FieldProblem(
                "type",
                message=f"entry point {entry.value} does not load ({type(exc).__name__}: {exc})",
            ) from exc
        model = getattr(loaded, "settings_model", None)
        extra = dict(self.model_extra or {})
        if model is None:
            if extra:
                raise FieldProblem(
                    sorted(extra)[0],
                    message=f"unknown field (receiver type {self.type!r} declares no settings_model)",
                )
            return self
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            raise FieldProblem(
                "type", message=f"{entry.value}.settings_model is not a pydantic model"
            )
        try:
            self._settings = model.model_validate(extra)
        except ValidationError as exc:
            first = exc.errors()[0]
            words = {"missing": "required", "extra_forbidden": "unknown field"}
            raise FieldProblem(
                *first["loc"], message=words.get(first["type"], first["msg"])
            ) from exc
        return self


def _receiver_tag(value: Any) -> str:
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return kind if kind in BUILT_IN_TYPES else PLUGIN_TAG


ReceiverConfig = Annotated[
    Annotated[AlertmanagerReceiverConfig, Tag("alertmanager")]
    | Annotated[SlackReceiverConfig, Tag("slack")]
    | Annotated[TeamsReceiverConfig, Tag("teams")]
    | Annotated[PagerDutyReceiverConfig, Tag("pagerduty")]
    | Annotated[WebhookReceiverConfig, Tag("webhook")]
    | Annotated[ConsoleReceiverConfig, Tag("console")]
    | Annotated[PluginReceiverConfig, Tag(PLUGIN_TAG)],
    Discriminator(_receiver_tag),
]
"""One entry of ``alerts.receivers``; ``type`` picks the model."""

AnyReceiverConfig = (
    AlertmanagerReceiverConfig
    | SlackReceiverConfig
    | TeamsReceiverConfig
    | PagerDutyReceiverConfig
    | WebhookReceiverConfig
    | ConsoleReceiverConfig
    | PluginReceiverConfig
)
RECEIVER_TAGS = frozenset((*BUILT_IN_TYPES, PLUGIN_TAG))
"""The union's tags, which pydantic puts in error locations (dropped when errors are shown)."""
