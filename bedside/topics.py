"""Topics of the terminal contract, keyed by terminal so one pattern ACL confines each terminal.

``{root}/terminal/{tid}/config|context|notify`` go from the service to the terminal;
``status`` and ``event`` from the terminal to the service. ``root`` is ``wardline/v1``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, cast, get_args

from bedside.errors import TopicInvalid

ROOT = "wardline/v1"
Channel = Literal["config", "context", "notify", "status", "event"]
FROM_SERVICE: tuple[Channel, ...] = ("config", "context", "notify")
FROM_TERMINAL: tuple[Channel, ...] = ("status", "event")
SHARE_GROUP = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
TERMINAL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def check_terminal_id(terminal_id: str) -> str:
    """Return ``terminal_id`` when it is usable in a topic and as a broker user name."""
    if not TERMINAL_ID.fullmatch(terminal_id):
        raise TopicInvalid(
            "mqtt.terminal_id_invalid", "terminal id must be 1-64 letters, digits, '.', '_', '-'"
        )
    return terminal_id


@dataclass(frozen=True)
class TopicRef:
    terminal_id: str
    channel: Channel


@dataclass(frozen=True)
class Topics:
    """Topic names under one root (tests may use a private root to avoid cross-talk)."""

    root: str = ROOT

    def terminal(self, terminal_id: str, channel: Channel) -> str:
        return f"{self.root}/terminal/{check_terminal_id(terminal_id)}/{channel}"

    def config(self, terminal_id: str) -> str:
        return self.terminal(terminal_id, "config")

    def context(self, terminal_id: str) -> str:
        return self.terminal(terminal_id, "context")

    def notify(self, terminal_id: str) -> str:
        return self.terminal(terminal_id, "notify")

    def status(self, terminal_id: str) -> str:
        return self.terminal(terminal_id, "status")

    def event(self, terminal_id: str) -> str:
        return self.terminal(terminal_id, "event")

    def all_from_terminals(self, channel: Channel) -> str:
        """The service's subscription filter for one terminal-to-service channel."""
        return f"{self.root}/terminal/+/{channel}"

    def shared_from_terminals(self, channel: Channel, group: str) -> str:
        """The same filter as a shared subscription (MQTT 5 ``$share/<group>/...``): the broker
        gives each message to one member of ``group`` only, the instances of the service."""
        if not SHARE_GROUP.fullmatch(group):
            raise TopicInvalid(
                "mqtt.share_group_invalid", "share group must be 1-64 letters, digits, '_', '-'"
            )
        return f"$share/{group}/{self.all_from_terminals(channel)}"

    def parse(self, topic: str) -> TopicRef:
        """Split a received topic into terminal id and channel, refusing anything else."""
        prefix = f"{self.root}/terminal/"
        if not topic.startswith(prefix):
            raise TopicInvalid("mqtt.topic_unknown", "topic outside the terminal contract")
        parts = topic[len(prefix) :].split("/")
        if len(parts) != 2 or parts[1] not in get_args(Channel):
            raise TopicInvalid("mqtt.topic_unknown", "topic outside the terminal contract")
        return TopicRef(check_terminal_id(parts[0]), cast(Channel, parts[1]))
