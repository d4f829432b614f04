"""Settings of the bedside edge that the core ``Settings`` does not have (env
``WARDLINE_BEDSIDE_*``); every one has a default. The lead may move them into the core."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from bedside.intake import IntakeLimits
from bedside.topics import ROOT


class ChannelEntry(BaseModel):
    number: int
    name: str
    url: str | None = None
    kind: Literal["tv", "radio"] = "tv"
    """A TV channel (video) or a radio station (sound only, on the TV's radio page)."""


DEFAULT_LINEUP = [
    ChannelEntry(number=1, name="Hospital information"),
    ChannelEntry(number=2, name="TF1"),
    ChannelEntry(number=3, name="France 2"),
    ChannelEntry(number=4, name="Arte"),
    ChannelEntry(number=101, name="France Inter", kind="radio"),
    ChannelEntry(number=102, name="France Musique", kind="radio"),
    ChannelEntry(number=103, name="RTL", kind="radio"),
]


class BedsideOptions(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WARDLINE_BEDSIDE_", frozen=True)

    topic_root: str = Field(default=ROOT, description="Root of the terminal topics.")
    kiosk_base_url: str | None = Field(
        default=None, description="Base URL of the TV pages; default the service's own address."
    )
    channel_lineup: list[ChannelEntry] = Field(
        default_factory=lambda: list(DEFAULT_LINEUP),
        description='TV channels and radio stations, JSON: [{"number": 101, "name": "France '
        'Inter", "url": "https://...", "kind": "radio"}] (kind tv by default).',
    )
    mqtt_ca_file: str | None = Field(default=None, description="CA bundle for mqtts://.")
    mqtt_window: int = Field(default=256, ge=1, le=4096, description="QoS 1 in-flight window.")
    reconnect_min_seconds: float = Field(default=0.5, gt=0)
    reconnect_max_seconds: float = Field(default=30.0, gt=0)
    presence_check_seconds: float = Field(default=15.0, gt=0)
    nurse_call_tick_seconds: float = Field(default=1.0, gt=0)
    survey_retained: bool = Field(
        default=True,
        description="After each resync, read the retained topics the broker keeps and erase "
        "those of terminals gone from the inventory (off for the demo's amqtt broker).",
    )
    terminal_rate_per_second: float = Field(
        default=10.0, gt=0, description="Messages per second one terminal may send (sustained)."
    )
    terminal_burst: int = Field(default=40, ge=1, description="Burst above that rate.")
    terminal_queue_depth: int = Field(
        default=32, ge=1, description="Messages of one terminal waiting to be handled."
    )
    refusal_log_seconds: float = Field(
        default=60.0, gt=0, description="A terminal's refusals are logged once per interval."
    )

    def intake_limits(self) -> IntakeLimits:
        return IntakeLimits(
            rate_per_second=self.terminal_rate_per_second,
            burst=self.terminal_burst,
            queue_per_terminal=self.terminal_queue_depth,
            refusal_interval_seconds=self.refusal_log_seconds,
        )
