"""Line management for the switchboard and admin: suspend or restore a bed line, change its
barring level or do-not-disturb, give the stay another DID.

Each change is one transaction with its audit row; :class:`LineChanged` (or
:class:`LineNumberSwapped`) is published after the commit, and the telephony edge applies it
to the PBX. Asking for the state a line already has changes nothing and audits nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from wardline.bus import EventBus
from wardline.db.base import utcnow
from wardline.db.engine import Database
from wardline.db.models import Stay
from wardline.domain import dids
from wardline.domain.audit import AuditLog
from wardline.domain.commands import Actor
from wardline.domain.errors import Conflict, InvalidInput, unknown_stay
from wardline.domain.events import LineChanged
from wardline.domain.line_events import LineNumberSwapped
from wardline.domain.stay_views import StayView, bed_ref, stay_view

BARRING_LEVELS = ("internal", "local", "national", "international")


class Lines:
    def __init__(
        self,
        db: Database,
        bus: EventBus,
        audit: AuditLog,
        clock: Callable[[], datetime] = utcnow,
        quarantine: timedelta = timedelta(hours=24),
    ) -> None:
        self.db, self.bus, self.audit, self.clock = db, bus, audit, clock
        self.quarantine = quarantine

    async def suspend(self, visit_number: str, actor: Actor) -> StayView:
        return await self._set(visit_number, actor, "line.suspend", line_suspended=True)

    async def restore(self, visit_number: str, actor: Actor) -> StayView:
        return await self._set(visit_number, actor, "line.restore", line_suspended=False)

    async def set_barring(self, visit_number: str, level: str, actor: Actor) -> StayView:
        if level not in BARRING_LEVELS:
            raise InvalidInput(
                "line.bad_barring",
                f"barring level must be one of {', '.join(BARRING_LEVELS)}",
                level=level,
            )
        return await self._set(visit_number, actor, "line.barring", barring=level)

    async def set_do_not_disturb(self, visit_number: str, on: bool, actor: Actor) -> StayView:
        return await self._set(visit_number, actor, "line.do_not_disturb", do_not_disturb=on)

    async def swap_did(self, visit_number: str, actor: Actor) -> StayView:
        """Give the stay the lowest available DID; the old one goes into quarantine."""
        async with self.db.session() as s:
            stay = await _active(s, visit_number)
            now = self.clock()
            old = stay.did
            stay.did = await dids.assign(s, stay.id, now)
            await dids.release(s, old, now, self.quarantine)
            await s.flush()
            await self._audit(s, actor, "line.swap_did", stay, old_did=old, did=stay.did)
            view = await stay_view(s, stay)
        if view.bed is not None:
            self.bus.publish(
                LineNumberSwapped(bed=view.bed, stay_id=stay.id, old_did=old, did=stay.did)
            )
        return view

    async def _set(self, visit_number: str, actor: Actor, action: str, **values: Any) -> StayView:
        async with self.db.session() as s:
            stay = await _active(s, visit_number)
            changed = {k: v for k, v in values.items() if getattr(stay, k) != v}
            for key, value in changed.items():
                setattr(stay, key, value)
            if changed:
                await s.flush()
                await self._audit(s, actor, action, stay, **changed)
            view = await stay_view(s, stay)
            ref = await bed_ref(s, stay.bed_id) if stay.bed_id is not None else None
        if changed and ref is not None:
            self.bus.publish(LineChanged(bed=ref, stay_id=stay.id))
        return view

    async def _audit(
        self, s: AsyncSession, actor: Actor, action: str, stay: Stay, **details: Any
    ) -> None:
        details["visit_number"] = stay.visit_number
        await self.audit.record(s, actor.name, action, "stay", stay.id, details)


async def _active(s: AsyncSession, visit_number: str) -> Stay:
    stay = (await s.scalars(select(Stay).where(Stay.visit_number == visit_number))).first()
    if stay is None:
        raise unknown_stay(visit_number)
    if stay.status != "active":
        raise Conflict("stay.not_active", "the stay is not active", visit_number=visit_number)
    return stay
