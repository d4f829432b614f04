"""Reads of the state the ADT listener leaves behind, for its tests."""

from __future__ import annotations

from sqlalchemy import select

from tests.ehr_bridge.conftest import Hospital
from wardline.db.models import InboundMessage, Stay


async def stay(h: Hospital, visit: str = "V100001") -> Stay | None:
    async with h.db.sessions() as s:
        return (await s.scalars(select(Stay).where(Stay.visit_number == visit))).first()


async def bed_of(h: Hospital, visit: str = "V100001") -> str | None:
    view = await h.stays.stay_by_visit(visit)
    return view.bed.label if view and view.bed else None


async def statuses(h: Hospital) -> list[tuple[str, str | None]]:
    async with h.db.sessions() as s:
        rows = await s.execute(
            select(InboundMessage.status, InboundMessage.ack_code).order_by(InboundMessage.id)
        )
        return [(r[0], r[1]) for r in rows]
