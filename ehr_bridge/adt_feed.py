"""The ADT feed port for the admin page: refused messages and their replay."""

from __future__ import annotations

from collections.abc import Callable

from ehr_bridge import adt_inbox as inbox
from ehr_bridge.adt_processing import AdtProcessor
from ehr_bridge.outbox import AuditHook
from wardline.db.engine import Database
from wardline.domain.adt_feed_port import InboundSummary, ReplayResult
from wardline.domain.commands import Actor
from wardline.domain.errors import NotFound


class AdtFeed:
    def __init__(
        self, db: Database, processor: Callable[[], AdtProcessor], audit: AuditHook
    ) -> None:
        self.db, self._processor, self.audit = db, processor, audit

    async def messages(self, status: str = "error", limit: int = 100) -> list[InboundSummary]:
        return [
            InboundSummary(
                message_id=e.id,
                sender=e.sender,
                control_id=e.control_id,
                message_type=e.message_type,
                received_at=e.received_at,
                status=e.status,
                ack_code=e.ack_code,
                error_id=e.error_id,
                error=e.error,
                attempts=e.attempts,
            )
            for e in await inbox.by_status(self.db, status, limit)
        ]

    async def replay(self, message_id: int, actor: Actor) -> ReplayResult:
        entry = await inbox.get(self.db, message_id)
        if entry is None:
            raise NotFound("adt.unknown_message", f"no inbound message {message_id}")
        outcome = await self._processor().replay(message_id)
        async with self.db.session() as s:
            await self.audit(
                s,
                actor.name,
                "adt.replay",
                "inbound_message",
                str(message_id),
                {"ack": outcome.ack_code, "error_id": outcome.error_id},
            )
        return ReplayResult(
            message_id=message_id,
            ack_code=outcome.ack_code,
            status=outcome.status,
            error_id=outcome.error_id,
            error=outcome.error,
        )
