"""Terminal presence events (owned by the bedside edge), for the admin page and the console."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from wardline.domain.events import DomainEvent


@dataclass(frozen=True, kw_only=True)
class TerminalOfflineAlert(DomainEvent):
    """A terminal has been offline for longer than the configured time."""

    terminal_id: str
    bed_label: str | None
    ward_code: str | None
    last_seen: datetime


@dataclass(frozen=True, kw_only=True)
class TerminalBackOnline(DomainEvent):
    terminal_id: str
    bed_label: str | None
