"""Events of the link between instances (``wardline.fanout``), published on the local bus."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from wardline.domain.events import DomainEvent


@dataclass(frozen=True, kw_only=True)
class ClusterResync(DomainEvent):
    """Events of other instances may have been missed (the listening connection to the
    database was lost and is back, or another instance could not send some of its events):
    whoever shows live state rebuilds it from the database (the live feed closes its sockets;
    the pages reconnect to a fresh snapshot). Local only: it never crosses to another
    instance."""

    reason: Literal["reconnected", "peer_unsent"]
    """``reconnected``: this instance's listener was lost; ``peer_unsent``: another instance
    could not send some of its events."""
