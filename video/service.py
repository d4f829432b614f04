"""The video visits service (the port's implementation) and its sweeper: invitations left
unanswered end, expired credentials are revoked, rooms of ended visits Janus could not destroy
are destroyed again, and the live visits' rooms that Janus forgot (it restarted) are created
again with their tokens (checked on every sweep with one room list)."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

import structlog
from sqlalchemy import select

from video.errors import GatewayError
from video.guest_door import GuestDoor
from video.models import VideoParticipant, VideoVisit
from video.store import SYSTEM, room_of
from video.visits import VideoVisits
from wardline.domain.errors import DomainError
from wardline.domain.events import StayCancelled, StayDischarged, StayEvent, StayTransferred

log = structlog.get_logger(__name__)


class VideoService(VideoVisits, GuestDoor):
    async def sweep(self) -> dict[str, int]:
        now = self.clock()
        done = {"unanswered": 0, "expired": 0, "cleaned": 0}
        async with self.db.sessions() as s:
            unanswered = list(
                await s.scalars(
                    select(VideoVisit.id).where(
                        VideoVisit.state == "invited", VideoVisit.invite_expires_at <= now
                    )
                )
            )
            expired = list(
                (
                    await s.execute(
                        select(VideoParticipant.visit_id, VideoParticipant.id)
                        .join(VideoVisit, VideoVisit.id == VideoParticipant.visit_id)
                        .where(
                            VideoVisit.state == "live",
                            VideoParticipant.janus_token.is_not(None),
                            VideoParticipant.token_expires_at <= now,
                        )
                    )
                ).all()
            )
            dirty = list(
                await s.scalars(
                    select(VideoVisit.id).where(
                        VideoVisit.state.in_(("ended", "declined")), VideoVisit.room.is_not(None)
                    )
                )
            )
            dirty += list(
                await s.scalars(
                    select(VideoParticipant.visit_id)
                    .join(VideoVisit, VideoVisit.id == VideoParticipant.visit_id)
                    .where(
                        VideoVisit.state.in_(("ended", "declined")),
                        VideoParticipant.janus_token.is_not(None),
                    )
                )
            )
        for visit_id in unanswered:
            try:
                await self.finish(visit_id, "no_answer", SYSTEM)
                done["unanswered"] += 1
            except DomainError:
                pass  # answered meanwhile
        for visit_id, participant_id in expired:
            try:
                await self.drop(visit_id, participant_id, SYSTEM, "expired")
                done["expired"] += 1
            except GatewayError as exc:
                log.warning("video.revoke_failed", visit_id=visit_id, error=exc.error_id)
        for visit_id in sorted(set(dirty)):
            done["cleaned"] += await self.clean(visit_id)
        return done

    async def reconcile(self) -> int:
        """Rooms of live visits that Janus forgot (it restarted) are created again."""
        async with self.db.sessions() as s:
            live = list(await s.scalars(select(VideoVisit).where(VideoVisit.state == "live")))
            people = list(
                await s.scalars(
                    select(VideoParticipant).where(
                        VideoParticipant.visit_id.in_([v.id for v in live]),
                        VideoParticipant.janus_token.is_not(None),
                    )
                )
            )
        again = 0
        if not live:
            return again
        existing = await self.keeper.rooms()
        for visit in live:
            room = room_of(visit)
            if room is None or room.room in existing:
                continue
            tokens = [p.janus_token for p in people if p.visit_id == visit.id and p.janus_token]
            await self.keeper.reopen(room, visit.id, tokens)
            again += 1
        return again

    async def run_sweeper(self) -> None:
        """Every few seconds: rooms Janus forgot (it restarted) created again, then the sweep."""
        while True:
            try:
                again = await self.reconcile()
                if again:
                    log.info("video.rooms_rebuilt", rooms=again)
                await self.sweep()
            except GatewayError as exc:
                log.warning("video.sweep_failed", error=exc.error_id)
            except Exception:
                log.exception("video.sweep_crashed")
            await asyncio.sleep(self.options.sweep_seconds)

    async def on_stay(self, event: StayEvent) -> None:
        """A patient who leaves the bed (discharge, transfer, cancelled admission) leaves the
        visit: it ends."""
        if not isinstance(event, StayDischarged | StayTransferred | StayCancelled):
            return
        async with self.db.sessions() as s:
            open_visits = list(
                await s.scalars(
                    select(VideoVisit.id).where(
                        VideoVisit.stay_id == event.stay_id,
                        VideoVisit.state.in_(("invited", "live")),
                    )
                )
            )
        for visit_id in open_visits:
            with contextlib.suppress(DomainError):
                await self.finish(visit_id, "discharged", SYSTEM)


__all__ = ["VideoService", "timedelta"]
