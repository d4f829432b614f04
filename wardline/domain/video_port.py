"""The port of video visits (implemented by the ``video`` edge, used by the web): who starts,
accepts, joins, admits and ends a visit, and the views the pages show (who, when, how long,
state; never content). docs/video.md is the HTTP contract built on it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

Kind = Literal["tv", "staff", "guest"]


@dataclass(frozen=True)
class Caller:
    """Who asks, as the web border authenticated them: a staff account (``key`` = username),
    the bed's terminal (``key`` = terminal id) or a guest (``key`` = the guest's id)."""

    kind: Kind
    key: str
    display_name: str
    ward_code: str | None = None
    roles: frozenset[str] = frozenset()

    @property
    def audit_name(self) -> str:
        return self.key if self.kind == "staff" else f"{self.kind}:{self.key}"


@dataclass(frozen=True)
class ParticipantView:
    participant_id: int
    kind: Kind
    name: str
    state: str  # invited, waiting, admitted, joined, left
    guest_id: int | None = None


@dataclass(frozen=True)
class VisitView:
    visit_id: int
    bed: str
    ward_code: str
    state: str  # invited, live, declined, ended
    started_by: str
    invited_at: datetime
    invite_expires_at: datetime
    accepted_at: datetime | None
    ended_at: datetime | None
    duration_seconds: int | None
    end_reason: str | None
    participants: tuple[ParticipantView, ...]

    def names_except(self, kind: Kind) -> tuple[str, ...]:
        return tuple(p.name for p in self.participants if p.kind != kind)


@dataclass(frozen=True)
class GuestInvite:
    """Shown once to the staff who invited: the link and the code are never stored in clear."""

    guest_id: int
    label: str
    link: str
    code: str
    expires_at: datetime


@dataclass(frozen=True)
class StartedVisit:
    visit: VisitView
    guests: tuple[GuestInvite, ...]


@dataclass(frozen=True)
class IceServer:
    urls: tuple[str, ...]
    username: str
    credential: str


@dataclass(frozen=True)
class JoinGrant:
    """What a browser needs to join the visit's room on Janus, and no more."""

    participant_id: int
    janus_url: str
    janus_http_url: str
    room: int
    pin: str
    token: str
    display: str
    feed_id: int
    ice_servers: tuple[IceServer, ...]
    ice_transport_policy: str
    expires_at: datetime


@dataclass(frozen=True)
class GuestView:
    visit_id: int
    guest_id: int
    label: str
    state: str  # waiting, admitted, joined, left, ended (or "invited" before the code)
    expires_at: datetime


class VideoVisitsPort(Protocol):
    async def start(
        self, caller: Caller, bed: str, staff: list[str], guests: list[str]
    ) -> StartedVisit: ...

    async def visits(self, caller: Caller, ward_code: str | None) -> list[VisitView]: ...

    async def visit(self, caller: Caller, visit_id: int) -> VisitView: ...

    async def end(self, caller: Caller, visit_id: int) -> VisitView: ...

    async def admit(self, caller: Caller, visit_id: int, guest_id: int) -> VisitView: ...

    async def join(self, caller: Caller, visit_id: int) -> JoinGrant: ...

    async def leave(self, caller: Caller, visit_id: int) -> None: ...

    async def bed_visit(self, caller: Caller) -> VisitView | None:
        """The open visit of the terminal's bed (invited or live)."""
        ...

    async def answer(self, caller: Caller, visit_id: int, accept: bool) -> VisitView: ...

    async def guest_link(self, link: str) -> GuestView: ...

    async def guest_enter(self, link: str, code: str) -> GuestView: ...

    async def guest(self, guest_id: int) -> GuestView: ...
