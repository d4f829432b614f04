"""JSON shapes of the video-visit API (docs/video.md), built from the port's views with times
in the ward's zone."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field

from wardline.domain.video_port import GuestView, JoinGrant, StartedVisit, VisitView


class GuestIn(BaseModel):
    label: str = Field(min_length=1, max_length=60)


class StartIn(BaseModel):
    bed: str = Field(min_length=1, max_length=64)
    staff: list[str] = Field(default_factory=list, max_length=3)
    guests: list[GuestIn] = Field(default_factory=list, max_length=3)


class ParticipantOut(BaseModel):
    participant_id: int
    kind: str
    name: str
    state: str
    guest_id: int | None = None


class VisitOut(BaseModel):
    visit_id: int
    bed: str
    ward_code: str
    state: str
    started_by: str
    invited_at: datetime
    invite_expires_at: datetime
    accepted_at: datetime | None
    ended_at: datetime | None
    duration_seconds: int | None
    end_reason: str | None
    participants: list[ParticipantOut]


class VisitsOut(BaseModel):
    visits: list[VisitOut]


class GuestInviteOut(BaseModel):
    guest_id: int
    label: str
    link: str
    code: str
    expires_at: datetime


class StartOut(BaseModel):
    visit_id: int
    state: str
    bed: str
    ward_code: str
    invite_expires_at: datetime
    guests: list[GuestInviteOut]
    visit: VisitOut


class JanusOut(BaseModel):
    url: str
    http_url: str
    room: int
    pin: str
    token: str
    display: str
    feed_id: int


class IceServerOut(BaseModel):
    urls: list[str]
    username: str
    credential: str


class JoinOut(BaseModel):
    participant_id: int
    janus: JanusOut
    ice_servers: list[IceServerOut]
    ice_transport_policy: str
    expires_at: datetime


class TvVisitOut(BaseModel):
    visit_id: int
    state: str
    invited_by: str
    others: list[str]
    invite_expires_at: datetime


class TvVisitState(BaseModel):
    visit: TvVisitOut | None


class GuestLinkOut(BaseModel):
    label: str
    expires_at: datetime


class GuestEnterIn(BaseModel):
    link: str = Field(min_length=1, max_length=100)
    code: str = Field(min_length=1, max_length=12)


class GuestOut(BaseModel):
    visit_id: int
    guest_id: int
    state: str
    csrf_token: str | None = None


def _local(moment: datetime | None, zone: ZoneInfo) -> datetime | None:
    return None if moment is None else moment.astimezone(zone)


def visit_out(view: VisitView, zone: ZoneInfo) -> VisitOut:
    return VisitOut(
        visit_id=view.visit_id,
        bed=view.bed,
        ward_code=view.ward_code,
        state=view.state,
        started_by=view.started_by,
        invited_at=view.invited_at.astimezone(zone),
        invite_expires_at=view.invite_expires_at.astimezone(zone),
        accepted_at=_local(view.accepted_at, zone),
        ended_at=_local(view.ended_at, zone),
        duration_seconds=view.duration_seconds,
        end_reason=view.end_reason,
        participants=[
            ParticipantOut(
                participant_id=p.participant_id,
                kind=p.kind,
                name=p.name,
                state=p.state,
                guest_id=p.guest_id,
            )
            for p in view.participants
        ],
    )


def start_out(started: StartedVisit, zone: ZoneInfo) -> StartOut:
    view = started.visit
    return StartOut(
        visit_id=view.visit_id,
        state=view.state,
        bed=view.bed,
        ward_code=view.ward_code,
        invite_expires_at=view.invite_expires_at.astimezone(zone),
        guests=[
            GuestInviteOut(
                guest_id=g.guest_id,
                label=g.label,
                link=g.link,
                code=g.code,
                expires_at=g.expires_at.astimezone(zone),
            )
            for g in started.guests
        ],
        visit=visit_out(view, zone),
    )


def join_out(grant: JoinGrant) -> JoinOut:
    return JoinOut(
        participant_id=grant.participant_id,
        janus=JanusOut(
            url=grant.janus_url,
            http_url=grant.janus_http_url,
            room=grant.room,
            pin=grant.pin,
            token=grant.token,
            display=grant.display,
            feed_id=grant.feed_id,
        ),
        ice_servers=[
            IceServerOut(urls=list(s.urls), username=s.username, credential=s.credential)
            for s in grant.ice_servers
        ],
        ice_transport_policy=grant.ice_transport_policy,
        expires_at=grant.expires_at,
    )


def tv_visit_out(view: VisitView, zone: ZoneInfo) -> TvVisitOut:
    starter = next((p for p in view.participants if p.kind == "staff"), None)
    return TvVisitOut(
        visit_id=view.visit_id,
        state=view.state,
        invited_by=starter.name if starter else view.started_by,
        others=[p.name for p in view.participants if p.kind != "tv"],
        invite_expires_at=view.invite_expires_at.astimezone(zone),
    )


def guest_out(view: GuestView, csrf: str | None = None) -> GuestOut:
    return GuestOut(
        visit_id=view.visit_id, guest_id=view.guest_id, state=view.state, csrf_token=csrf
    )
