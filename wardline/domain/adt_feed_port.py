"""The ADT feed as the admin page sees it: messages refused by the domain, and replaying one
once its cause is fixed. Implemented by the EHR bridge (``ehr_bridge.adt_feed.AdtFeed``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from wardline.domain.commands import Actor


@dataclass(frozen=True, kw_only=True)
class InboundSummary:
    message_id: int
    sender: str
    control_id: str
    message_type: str
    received_at: datetime
    status: str
    """received, applied, error (refused by the domain, replayable), rejected (malformed)."""
    ack_code: str | None
    error_id: str | None
    error: str | None
    attempts: int


@dataclass(frozen=True, kw_only=True)
class ReplayResult:
    message_id: int
    ack_code: str
    status: str
    error_id: str | None = None
    error: str | None = None


class AdtFeedPort(Protocol):
    async def messages(self, status: str = "error", limit: int = 100) -> list[InboundSummary]:
        """The newest messages in ``status``, newest first."""
        ...

    async def replay(self, message_id: int, actor: Actor) -> ReplayResult:
        """Apply a refused message again (audited as the person's action)."""
        ...
