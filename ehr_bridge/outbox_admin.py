"""What an administrator does with a bedside write the EHR refused for good.

A refused write stays in the outbox as ``failed`` with the server's reason, and the dose it
records stays recorded at the bed (never due again). Once the cause is mended in the EHR (an
order validated again, a code system loaded, a practitioner created) the write is **sent
again**: back to ``pending``, delivered by the worker with the same conditional create, so a
write the server did take meanwhile is never duplicated. When it was entered in the EHR by
other means, or must not be, it is **closed by hand** with the reason in words. Either is
one transaction with its audit row; only a ``failed`` write can be acted on.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ehr_bridge import outbox
from ehr_bridge.models import EhrOutbox
from wardline.db.engine import Database
from wardline.domain.clinical_record_port import OutboxItem
from wardline.domain.errors import Conflict, InvalidInput, NotFound

NOTE_LENGTH = (3, 200)


async def _refused_write(s: AsyncSession, business_id: str) -> EhrOutbox:
    row = await s.scalar(
        select(EhrOutbox).where(EhrOutbox.business_id == business_id).with_for_update()
    )
    if row is None:
        raise NotFound("ehr.unknown_write", "no bedside write has this identifier")
    if row.state != outbox.FAILED:
        raise Conflict(
            "ehr.write_not_refused",
            "only a write the EHR refused can be sent again or closed",
            state=row.state,
        )
    return row


async def send_again(
    db: Database, audit: outbox.AuditHook, business_id: str, *, actor: str, now: datetime
) -> OutboxItem:
    async with db.session() as s:
        row = await _refused_write(s, business_id)
        row.state = outbox.PENDING
        row.attempts = 0
        row.next_attempt_at = now
        await audit(
            s,
            actor,
            "ehr.write_sent_again",
            "ehr_outbox",
            business_id,
            {"kind": row.kind, "visit": row.visit_number},
        )
        return outbox.as_item(row)


async def close_by_hand(
    db: Database,
    audit: outbox.AuditHook,
    business_id: str,
    *,
    actor: str,
    note: str,
    now: datetime,
) -> OutboxItem:
    why = " ".join(note.split())
    if not NOTE_LENGTH[0] <= len(why) <= NOTE_LENGTH[1]:
        raise InvalidInput(
            "ehr.close_note_needed",
            "say in words why this write is closed without the EHR",
            min=NOTE_LENGTH[0],
            max=NOTE_LENGTH[1],
        )
    async with db.session() as s:
        row = await _refused_write(s, business_id)
        row.state = outbox.CLOSED
        row.delivered_at = now
        await audit(
            s,
            actor,
            "ehr.write_closed_by_hand",
            "ehr_outbox",
            business_id,
            {"kind": row.kind, "visit": row.visit_number, "note": why},
        )
        return outbox.as_item(row)
