"""Guests: the one-time link (checked before anything is shown), the phone code (wrong codes
counted and refused after five, for the link's whole life), the waiting room and the staff's
admission. An unknown, expired, spent or foreign link gets one answer."""

from __future__ import annotations

from sqlalchemy import select

from video import errors as e
from video.guests import (
    MAX_CODE_FAILURES,
    code_matches,
    link_hash,
    well_formed_code,
    well_formed_link,
)
from video.models import VideoParticipant, VideoVisit
from video.store import OPEN, VisitStore
from video.views import visit_view
from wardline.domain.video_events import VisitGuestAdmitted, VisitGuestWaiting
from wardline.domain.video_port import Caller, GuestView, VisitView


class GuestDoor(VisitStore):
    async def _by_link(self, link: str) -> tuple[VideoVisit, VideoParticipant]:
        if not well_formed_link(link):
            raise e.link_invalid()
        async with self.db.sessions() as s:
            guest = (
                await s.scalars(
                    select(VideoParticipant).where(
                        VideoParticipant.link_hash == link_hash(link),
                        VideoParticipant.kind == "guest",
                    )
                )
            ).first()
            visit = None if guest is None else await s.get(VideoVisit, guest.visit_id)
        if (
            guest is None
            or visit is None
            or visit.state not in OPEN
            or guest.link_expires_at is None
            or guest.link_expires_at <= self.clock()
        ):
            raise e.link_invalid()
        return visit, guest

    @staticmethod
    def _view(visit: VideoVisit, guest: VideoParticipant) -> GuestView:
        state = guest.state if visit.state in OPEN else "ended"
        assert guest.link_expires_at is not None
        return GuestView(visit.id, guest.id, guest.name, state, guest.link_expires_at)

    async def guest_link(self, link: str) -> GuestView:
        visit, guest = await self._by_link(link)
        if guest.state != "invited":
            raise e.link_invalid()  # spent
        return self._view(visit, guest)

    async def guest_enter(self, link: str, code: str) -> GuestView:
        visit, guest = await self._by_link(link)
        if guest.state != "invited":
            raise e.link_invalid()
        if guest.code_failures >= MAX_CODE_FAILURES:
            raise e.code_throttled()
        right = well_formed_code(code) and code_matches(
            self.code_key, guest.code_hash, guest.link_hash, code
        )
        async with self.db.session() as s:
            visit, people = await self.load(s, visit.id)
            guest = next(p for p in people if p.id == guest.id)
            if guest.state != "invited":
                raise e.link_invalid()
            actor = f"guest:{guest.id}"
            if not right:
                guest.code_failures += 1
                await self.record(
                    s,
                    actor,
                    "video.code_refused",
                    visit,
                    participant_id=guest.id,
                    failures=guest.code_failures,
                )
                left = MAX_CODE_FAILURES - guest.code_failures
            else:
                guest.state = "waiting"
                await self.record(s, actor, "video.guest_entered", visit, participant_id=guest.id)
            view = self._view(visit, guest)
        if not right:
            raise e.code_throttled() if left <= 0 else e.code_wrong(left)
        self.event(VisitGuestWaiting, visit, participant_id=guest.id, kind="guest", who=guest.name)
        return view

    async def guest(self, guest_id: int) -> GuestView:
        async with self.db.sessions() as s:
            guest = await s.get(VideoParticipant, guest_id)
            visit = None if guest is None else await s.get(VideoVisit, guest.visit_id)
        if guest is None or visit is None or guest.kind != "guest":
            raise e.visit_unknown(0)
        return self._view(visit, guest)

    async def admit(self, caller: Caller, visit_id: int, guest_id: int) -> VisitView:
        async with self.db.session() as s:
            visit, people = await self.load(s, visit_id)
            if caller.kind != "staff" or not self.may_see(caller, visit, people):
                raise e.visit_unknown(visit_id)
            if visit.state == "invited":
                raise e.not_accepted(visit_id)
            if visit.state != "live":
                raise e.ended(visit_id)
            guest = next((p for p in people if p.id == guest_id and p.kind == "guest"), None)
            if guest is None:
                raise e.bad_request("guest_id", "no such guest in this visit")
            if guest.state != "waiting":
                raise e.wrong_state(visit_id, guest.state, "waiting")
            guest.state = "admitted"
            await self.record(
                s, caller.audit_name, "video.admitted", visit, participant_id=guest.id
            )
            view = visit_view(visit, people, self.clock())
        self.event(VisitGuestAdmitted, visit, participant_id=guest.id, kind="guest", who=guest.name)
        return view
