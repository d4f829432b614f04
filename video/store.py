"""What the visit's steps share: loading a visit with its participants, who may see it, its
events and audit rows, and its end (written first, then the room destroyed and the tokens
removed; :meth:`VisitStore.clean` is retried by the sweeper when Janus is down)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from video import errors as e
from video.guests import code_key
from video.models import VideoParticipant, VideoVisit
from video.rooms import Room, RoomKeeper, VideoOptions
from video.views import visit_view
from wardline.bus import EventBus
from wardline.db.engine import Database
from wardline.domain.audit import AuditLog
from wardline.domain.video_events import (
    VisitEnded,
    VisitEvent,
)
from wardline.domain.video_port import (
    Caller,
    VisitView,
)

log = structlog.get_logger(__name__)
MAX_PARTICIPANTS = 4
STARTER_ROLES = frozenset({"clinician", "nurse"})
OPEN = ("invited", "live")
SYSTEM = "system:video"


def room_of(visit: VideoVisit) -> Room | None:
    if visit.room is None or visit.room_secret is None or visit.room_pin is None:
        return None
    return Room(visit.room, visit.room_secret, visit.room_pin)


class VisitStore:
    """Reading and the common steps of writing (shared by the lifecycle and the guests' door)."""

    def __init__(
        self,
        db: Database,
        bus: EventBus,
        audit: AuditLog,
        keeper: RoomKeeper,
        clock: Callable[[], datetime],
        options: VideoOptions,
    ) -> None:
        self.db, self.bus, self.audit, self.keeper = db, bus, audit, keeper
        self.clock, self.options = clock, options
        self.code_key = code_key(audit.key)

    async def load(
        self, s: AsyncSession, visit_id: int
    ) -> tuple[VideoVisit, list[VideoParticipant]]:
        visit = await s.get(VideoVisit, visit_id)
        if visit is None:
            raise e.visit_unknown(visit_id)
        rows = await s.scalars(
            select(VideoParticipant).where(VideoParticipant.visit_id == visit_id)
        )
        return visit, list(rows)

    @staticmethod
    def own(caller: Caller, people: list[VideoParticipant]) -> VideoParticipant | None:
        for p in people:
            if p.kind != caller.kind:
                continue
            if (caller.kind == "guest" and str(p.id) == caller.key) or (
                caller.kind != "guest" and p.account == caller.key
            ):
                return p
        return None

    def may_see(self, caller: Caller, visit: VideoVisit, people: list[VideoParticipant]) -> bool:
        if self.own(caller, people) is not None:
            return True
        return caller.kind == "staff" and caller.ward_code in (None, visit.ward_code)

    def event(self, event_type: type[VisitEvent], visit: VideoVisit, /, **more: Any) -> None:
        self.bus.publish(
            event_type(
                visit_id=visit.id,
                bed_label=visit.bed_label,
                ward_code=visit.ward_code,
                terminal_id=visit.terminal_id,
                **more,
            )
        )

    async def record(
        self, s: AsyncSession, actor: str, action: str, visit: VideoVisit, **details: object
    ) -> None:
        await self.audit.record(s, actor, action, "video_visit", visit.id, dict(details))

    async def finish(self, visit_id: int, reason: str, actor: str) -> VisitView:
        """Ended in the database first (audited), then the room and tokens removed."""
        now = self.clock()
        async with self.db.session() as s:
            visit, people = await self.load(s, visit_id)
            if visit.state not in OPEN:
                raise e.ended(visit_id)
            visit.state, visit.ended_at, visit.end_reason = "ended", now, reason
            for p in people:
                if p.state != "left":
                    p.state, p.left_at = "left", now
            view = visit_view(visit, people, now)
            await self.record(
                s,
                actor,
                "video.ended",
                visit,
                reason=reason,
                duration_seconds=view.duration_seconds,
                participants=sum(p.joined_at is not None for p in people),
            )
        self.event(VisitEnded, visit, reason=reason)
        await self.clean(visit_id)
        return view

    async def clean(self, visit_id: int) -> bool:
        """Destroy an ended visit's room and remove its tokens (False: Janus refused or is
        down; the sweeper tries again)."""
        async with self.db.sessions() as s:
            visit, people = await self.load(s, visit_id)
        room = room_of(visit)
        tokens = [p.janus_token for p in people if p.janus_token]
        if room is None and not tokens:
            return True
        try:
            if room is not None:
                await self.keeper.close(room, tokens)
            else:
                for token in tokens:
                    await self.keeper.revoke(None, token, None)
        except e.GatewayError as exc:
            log.warning("video.cleanup_failed", visit_id=visit_id, error=exc.error_id)
            return False
        async with self.db.session() as s:
            visit, people = await self.load(s, visit_id)
            visit.room = visit.room_secret = visit.room_pin = None
            for p in people:
                p.janus_token = None
        return True
