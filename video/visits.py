"""The visit's lifecycle (the port :class:`~wardline.domain.video_port.VideoVisitsPort`):
staff invite, the TV accepts or declines, participants join and leave, staff end it. Janus is
touched outside the database transaction and undone when the transaction fails; the end is
written first and the room destroyed after (:mod:`video.store`)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from video import errors as e
from video.guests import LINK_PATH, code_digest, link_hash, new_code, new_link
from video.models import VideoParticipant, VideoVisit
from video.store import MAX_PARTICIPANTS, OPEN, STARTER_ROLES, SYSTEM, VisitStore, room_of
from video.views import visit_view
from wardline.db.models import Bed, StaffUser, Stay, Terminal, Ward
from wardline.db.models import Room as WardRoom
from wardline.domain.video_events import (
    VisitAccepted,
    VisitDeclined,
    VisitInvited,
    VisitParticipantJoined,
    VisitParticipantLeft,
)
from wardline.domain.video_port import Caller, GuestInvite, JoinGrant, StartedVisit, VisitView


def check_label(label: str) -> str:
    label = " ".join(label.split())
    if not 1 <= len(label) <= 60:
        raise e.bad_request("guests.label", "a guest's label has 1 to 60 characters")
    return label


class VideoVisits(VisitStore):
    async def start(
        self, caller: Caller, bed: str, staff: list[str], guests: list[str]
    ) -> StartedVisit:
        labels = [check_label(g) for g in guests]
        others = sorted({u.strip() for u in staff if u.strip()} - {caller.key})
        if 2 + len(others) + len(labels) > MAX_PARTICIPANTS:
            raise e.too_many(2 + len(others) + len(labels), MAX_PARTICIPANTS)
        codes = [new_code() for _ in labels]
        links = [new_link() for _ in labels]
        code_hashes = [
            code_digest(self.code_key, link_hash(link), code)
            for link, code in zip(links, codes, strict=True)
        ]
        now = self.clock()
        link_expiry = now + timedelta(minutes=self.options.guest_link_minutes)
        async with self.db.session() as s:
            place = (
                await s.execute(
                    select(Bed.id, Bed.label, Ward.code, Terminal.id)
                    .join(WardRoom, Bed.room_id == WardRoom.id)
                    .join(Ward, WardRoom.ward_id == Ward.id)
                    .outerjoin(Terminal, Terminal.bed_id == Bed.id)
                    .where(Bed.label == bed)
                )
            ).first()
            if place is None or caller.ward_code not in (None, place[2]):
                raise e.bed_unknown(bed)
            bed_id, bed_label, ward_code, terminal_id = place
            stay_id = (
                await s.scalars(
                    select(Stay.id).where(Stay.bed_id == bed_id, Stay.status == "active")
                )
            ).first()
            if stay_id is None:
                raise e.bed_empty(bed_label)
            if terminal_id is None:
                raise e.no_terminal(bed_label)
            busy = (
                await s.scalars(
                    select(VideoVisit.id).where(
                        VideoVisit.bed_id == bed_id, VideoVisit.state.in_(OPEN)
                    )
                )
            ).first()
            if busy is not None:
                raise e.bed_busy(bed_label, busy)
            accounts = {
                u.username: u
                for u in await s.scalars(select(StaffUser).where(StaffUser.username.in_(others)))
                if u.active and u.role_set & STARTER_ROLES
            }
            unknown = [u for u in others if u not in accounts]
            if unknown:
                raise e.staff_unknown(unknown)
            visit = VideoVisit(
                bed_id=bed_id,
                bed_label=bed_label,
                ward_code=ward_code,
                stay_id=stay_id,
                terminal_id=terminal_id,
                state="invited",
                started_by=caller.key,
                invited_at=now,
                invite_expires_at=now + timedelta(minutes=self.options.invite_minutes),
            )
            s.add(visit)
            await s.flush()
            people = [
                VideoParticipant(
                    visit_id=visit.id,
                    kind="tv",
                    name=bed_label,
                    account=terminal_id,
                    state="invited",
                ),
                VideoParticipant(
                    visit_id=visit.id,
                    kind="staff",
                    name=caller.display_name,
                    account=caller.key,
                    state="invited",
                ),
                *(
                    VideoParticipant(
                        visit_id=visit.id,
                        kind="staff",
                        name=accounts[u].display_name,
                        account=u,
                        state="invited",
                    )
                    for u in others
                ),
                *(
                    VideoParticipant(
                        visit_id=visit.id,
                        kind="guest",
                        name=label,
                        state="invited",
                        link_hash=link_hash(link),
                        link_expires_at=link_expiry,
                        code_hash=code_hash,
                        code_failures=0,
                    )
                    for label, link, code_hash in zip(labels, links, code_hashes, strict=True)
                ),
            ]
            s.add_all(people)
            await s.flush()
            await self.record(
                s,
                caller.audit_name,
                "video.invited",
                visit,
                bed=bed_label,
                staff=[caller.key, *others],
                guests=len(labels),
            )
            view = visit_view(visit, people, now)
        self.event(
            VisitInvited,
            visit,
            invited_by=caller.display_name,
            invited_by_role=_role(caller),
            others=view.names_except("tv"),
        )
        guests_out = tuple(
            GuestInvite(p.id, p.name, LINK_PATH + link, code, link_expiry)
            for p, link, code in zip(
                people[-len(labels) :] if labels else [], links, codes, strict=True
            )
        )
        return StartedVisit(view, guests_out)

    async def visit(self, caller: Caller, visit_id: int) -> VisitView:
        async with self.db.sessions() as s:
            visit, people = await self.load(s, visit_id)
        if not self.may_see(caller, visit, people):
            raise e.visit_unknown(visit_id)
        return visit_view(visit, people, self.clock())

    async def visits(self, caller: Caller, ward_code: str | None) -> list[VisitView]:
        now = self.clock()
        ward = ward_code or caller.ward_code
        query = select(VideoVisit).where(
            VideoVisit.state.in_(OPEN) | (VideoVisit.invited_at >= now - timedelta(hours=24))
        )
        if ward is not None:
            query = query.where(VideoVisit.ward_code == ward)
        async with self.db.sessions() as s:
            visits = list(await s.scalars(query.order_by(VideoVisit.id.desc()).limit(200)))
            people = list(
                await s.scalars(
                    select(VideoParticipant).where(
                        VideoParticipant.visit_id.in_([v.id for v in visits])
                    )
                )
            )
        out = []
        for visit in visits:
            mine = [p for p in people if p.visit_id == visit.id]
            if self.may_see(caller, visit, mine):
                out.append(visit_view(visit, mine, now))
        return out

    async def bed_visit(self, caller: Caller) -> VisitView | None:
        async with self.db.sessions() as s:
            visit_id = (
                await s.scalars(
                    select(VideoVisit.id).where(
                        VideoVisit.terminal_id == caller.key, VideoVisit.state.in_(OPEN)
                    )
                )
            ).first()
        return None if visit_id is None else await self.visit(caller, visit_id)

    async def answer(self, caller: Caller, visit_id: int, accept: bool) -> VisitView:
        async with self.db.sessions() as s:
            visit, people = await self.load(s, visit_id)
        if caller.kind != "tv" or self.own(caller, people) is None:
            raise e.visit_unknown(visit_id)
        if visit.state != "invited":
            raise (
                e.ended(visit_id)
                if visit.state not in OPEN
                else e.wrong_state(visit_id, visit.state, "invited")
            )
        if visit.invite_expires_at <= self.clock():
            await self.finish(visit_id, "no_answer", SYSTEM)
            raise e.ended(visit_id)
        room = await self.keeper.open(visit_id) if accept else None
        try:
            async with self.db.session() as s:
                visit, people = await self.load(s, visit_id)
                if visit.state != "invited":
                    raise e.wrong_state(visit_id, visit.state, "invited")
                now = self.clock()
                tv = self.own(caller, people)
                assert tv is not None
                if room is not None:
                    visit.state, visit.accepted_at = "live", now
                    visit.room, visit.room_secret, visit.room_pin = room.room, room.secret, room.pin
                else:
                    visit.state, visit.ended_at, visit.end_reason = "declined", now, "declined"
                    for p in people:
                        p.state = "left"
                action = "video.accepted" if accept else "video.declined"
                await self.record(s, caller.audit_name, action, visit)
                view = visit_view(visit, people, now)
        except BaseException:
            if room is not None:
                await self.keeper.close(room, [])
            raise
        self.event(VisitAccepted if accept else VisitDeclined, visit)
        return view

    async def join(self, caller: Caller, visit_id: int) -> JoinGrant:
        async with self.db.sessions() as s:
            visit, people = await self.load(s, visit_id)
        me = self.own(caller, people)
        if me is None:
            if self.may_see(caller, visit, people):
                raise e.not_participant(visit_id)
            raise e.visit_unknown(visit_id)
        if visit.state == "invited":
            raise e.not_accepted(visit_id)
        room = room_of(visit)
        if visit.state != "live" or room is None:
            raise e.ended(visit_id)
        if me.kind == "guest" and me.state in ("invited", "waiting"):
            raise e.not_admitted(visit_id)
        if me.kind == "guest" and me.state == "left" and me.joined_at is None:
            raise e.not_admitted(visit_id)
        token = await self.keeper.grant(room)
        old = me.janus_token
        now = self.clock()
        expires = now + timedelta(minutes=self.options.credential_minutes)
        try:
            async with self.db.session() as s:
                visit, people = await self.load(s, visit_id)
                me = self.own(caller, people)
                if visit.state != "live" or me is None:
                    raise e.ended(visit_id)
                me.janus_token, me.token_expires_at, me.state = token, expires, "joined"
                me.joined_at, me.left_at = me.joined_at or now, None
                await self.record(
                    s, caller.audit_name, "video.joined", visit, participant_id=me.id, kind=me.kind
                )
        except BaseException:
            await self.keeper.revoke(room, token, None)
            raise
        if old:
            await self.keeper.revoke(room, old, None)
        self.event(VisitParticipantJoined, visit, participant_id=me.id, kind=me.kind, who=me.name)
        return JoinGrant(
            participant_id=me.id,
            janus_url=self.options.janus_ws_url,
            janus_http_url=self.options.janus_http_url,
            room=room.room,
            pin=room.pin,
            token=token,
            display=me.name,
            feed_id=me.id,
            ice_servers=self.keeper.ice_servers(f"v{visit.id}p{me.id}", expires),
            ice_transport_policy="relay" if self.options.relay_only else "all",
            expires_at=expires,
        )

    async def leave(self, caller: Caller, visit_id: int) -> None:
        async with self.db.sessions() as s:
            visit, people = await self.load(s, visit_id)
        me = self.own(caller, people)
        if me is None:
            raise e.visit_unknown(visit_id)
        if me.kind == "tv":  # Back on the TV: the visit ends for the patient, so for all
            if visit.state in OPEN:
                await self.finish(visit_id, "patient", caller.audit_name)
            return
        await self.drop(visit_id, me.id, caller.audit_name, "left")

    async def drop(self, visit_id: int, participant_id: int, actor: str, why: str) -> None:
        """A participant out of the room: its feed kicked, its token removed, audited."""
        async with self.db.sessions() as s:
            visit, people = await self.load(s, visit_id)
        me = next(p for p in people if p.id == participant_id)
        if me.janus_token:
            await self.keeper.revoke(room_of(visit), me.janus_token, me.id)
        async with self.db.session() as s:
            visit, people = await self.load(s, visit_id)
            me = next(p for p in people if p.id == participant_id)
            was_in = me.state == "joined"
            me.state, me.left_at, me.janus_token = "left", self.clock(), None
            await self.record(
                s, actor, "video.left", visit, participant_id=me.id, kind=me.kind, reason=why
            )
        if was_in:
            self.event(VisitParticipantLeft, visit, participant_id=me.id, kind=me.kind, who=me.name)

    async def end(self, caller: Caller, visit_id: int) -> VisitView:
        await self.visit(caller, visit_id)  # unknown when not theirs to see
        if caller.kind != "staff":
            raise e.not_participant(visit_id)
        return await self.finish(visit_id, "staff", caller.audit_name)


def _role(caller: Caller) -> str:
    return "clinician" if "clinician" in caller.roles else "nurse"
