"""The video-visit API (docs/video.md): staff start, list, end visits and admit guests; every
participant joins and leaves; the TV answers the invitation. The port does the work; this
module only turns the signed-in person into a :class:`Caller` and the views into JSON."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from aiohttp import web
from aiohttp_session import get_session
from pydantic import BaseModel, Field

from kiosk_ui.api import Api, ApiCall
from kiosk_ui.auth import SignedIn
from kiosk_ui.errors import signed_out
from kiosk_ui.state import WebEdge
from kiosk_ui.terminal_auth import require_terminal
from kiosk_ui.video_models import (
    JoinOut,
    StartIn,
    StartOut,
    TvVisitOut,
    TvVisitState,
    VisitOut,
    VisitsOut,
    join_out,
    start_out,
    tv_visit_out,
    visit_out,
)
from wardline import appkeys as k
from wardline.domain.video_port import Caller, VideoVisitsPort
from wardline.errors import Unavailable

STARTERS = ("clinician", "nurse")
PARTICIPANTS = ("clinician", "nurse", "terminal", "guest")
GUEST_KEY = "video_guest"
"""Session key of a guest's ``[visit_id, guest_id]``."""


class VisitPath(BaseModel):
    visit_id: int = Field(ge=1, le=2**53)


class GuestPath(BaseModel):
    visit_id: int = Field(ge=1, le=2**53)
    guest_id: int = Field(ge=1, le=2**53)


class WardQuery(BaseModel):
    ward: str | None = Field(default=None, max_length=32)


def visits_port(app: web.Application) -> VideoVisitsPort:
    port = app.get(k.VIDEO_VISITS)
    if port is None:
        raise Unavailable("video.disabled", "video visits are not configured on this service")
    return port


def staff_caller(user: SignedIn) -> Caller:
    return Caller("staff", user.username, user.display_name, user.ward_code, user.roles)


async def caller_of(call: ApiCall) -> Caller:
    user = call.signed_in()
    if "terminal" in user.roles:
        place = await require_terminal(call.request)
        return Caller("tv", place.terminal_id, place.bed_label, place.ward_code)
    if "guest" in user.roles:
        _visit, guest_id = await guest_of(call.request)
        return Caller("guest", str(guest_id), user.display_name)
    return staff_caller(user)


async def guest_of(request: web.Request) -> tuple[int, int]:
    value = (await get_session(request)).get(GUEST_KEY)
    if not (isinstance(value, list) and len(value) == 2):
        raise signed_out()
    return int(value[0]), int(value[1])


async def zone_of(call: ApiCall, ward_code: str) -> ZoneInfo:
    return await call.request.app[k.WARD_TIME].of_ward(ward_code)


def register(api: Api) -> None:
    @api.route(
        "POST",
        "/visits",
        roles=STARTERS,
        summary="Invite a bed's patient to a video visit (and staff, guests)",
        body=StartIn,
        response=StartOut,
        status=201,
        tags=("video",),
    )
    async def start_visit(call: ApiCall) -> StartOut:
        body = call.body(StartIn)
        started = await visits_port(call.request.app).start(
            staff_caller(call.signed_in()), body.bed, body.staff, [g.label for g in body.guests]
        )
        return start_out(started, await zone_of(call, started.visit.ward_code))

    @api.route(
        "GET",
        "/visits",
        roles=STARTERS,
        summary="The ward's video visits (who, when, how long, state)",
        query=WardQuery,
        response=VisitsOut,
        tags=("video",),
    )
    async def list_visits(call: ApiCall) -> VisitsOut:
        views = await visits_port(call.request.app).visits(
            staff_caller(call.signed_in()), call.query(WardQuery).ward
        )
        return VisitsOut(visits=[visit_out(v, await zone_of(call, v.ward_code)) for v in views])

    @api.route(
        "GET",
        "/visits/{visit_id}",
        roles=STARTERS,
        summary="One video visit",
        response=VisitOut,
        path_params=VisitPath,
        tags=("video",),
    )
    async def get_visit(call: ApiCall) -> VisitOut:
        view = await visits_port(call.request.app).visit(
            staff_caller(call.signed_in()), call.params(VisitPath).visit_id
        )
        return visit_out(view, await zone_of(call, view.ward_code))

    @api.route(
        "POST",
        "/visits/{visit_id}/end",
        roles=STARTERS,
        summary="End a video visit",
        response=VisitOut,
        path_params=VisitPath,
        tags=("video",),
    )
    async def end_visit(call: ApiCall) -> VisitOut:
        view = await visits_port(call.request.app).end(
            staff_caller(call.signed_in()), call.params(VisitPath).visit_id
        )
        return visit_out(view, await zone_of(call, view.ward_code))

    @api.route(
        "POST",
        "/visits/{visit_id}/guests/{guest_id}/admit",
        roles=STARTERS,
        summary="Let a waiting guest in",
        response=VisitOut,
        path_params=GuestPath,
        tags=("video",),
    )
    async def admit_guest(call: ApiCall) -> VisitOut:
        where = call.params(GuestPath)
        view = await visits_port(call.request.app).admit(
            staff_caller(call.signed_in()), where.visit_id, where.guest_id
        )
        return visit_out(view, await zone_of(call, view.ward_code))

    @api.route(
        "POST",
        "/visits/{visit_id}/join",
        roles=PARTICIPANTS,
        summary="Credentials to join the visit's room on Janus (token, PIN, TURN)",
        response=JoinOut,
        path_params=VisitPath,
        tags=("video",),
    )
    async def join_visit(call: ApiCall) -> JoinOut:
        port = visits_port(call.request.app)
        grant = await port.join(await caller_of(call), call.params(VisitPath).visit_id)
        return join_out(grant)

    @api.route(
        "POST",
        "/visits/{visit_id}/leave",
        roles=PARTICIPANTS,
        summary="Leave the visit (its token is removed)",
        response=None,
        path_params=VisitPath,
        tags=("video",),
    )
    async def leave_visit(call: ApiCall) -> None:
        port = visits_port(call.request.app)
        await port.leave(await caller_of(call), call.params(VisitPath).visit_id)

    @api.route(
        "GET",
        "/tv/visit",
        roles=("terminal",),
        summary="The bed's open video visit",
        response=TvVisitState,
        tags=("video", "tv"),
    )
    async def tv_visit(call: ApiCall) -> TvVisitState:
        caller = await caller_of(call)
        view = await visits_port(call.request.app).bed_visit(caller)
        if view is None:
            return TvVisitState(visit=None)
        return TvVisitState(visit=tv_visit_out(view, await zone_of(call, view.ward_code)))

    async def answer(call: ApiCall, accept: bool) -> TvVisitOut:
        caller = await caller_of(call)
        view = await visits_port(call.request.app).answer(
            caller, call.params(VisitPath).visit_id, accept
        )
        return tv_visit_out(view, await zone_of(call, view.ward_code))

    @api.route(
        "POST",
        "/tv/visits/{visit_id}/accept",
        roles=("terminal",),
        summary="The patient accepts the video visit",
        response=TvVisitOut,
        path_params=VisitPath,
        tags=("video", "tv"),
    )
    async def tv_accept(call: ApiCall) -> TvVisitOut:
        return await answer(call, True)

    @api.route(
        "POST",
        "/tv/visits/{visit_id}/decline",
        roles=("terminal",),
        summary="The patient declines the video visit",
        response=None,
        path_params=VisitPath,
        tags=("video", "tv"),
    )
    async def tv_decline(call: ApiCall) -> None:
        await answer(call, False)

    @api.route(
        "POST",
        "/tv/visits/{visit_id}/leave",
        roles=("terminal",),
        summary="Back on the TV: the visit ends",
        response=None,
        path_params=VisitPath,
        tags=("video", "tv"),
    )
    async def tv_leave(call: ApiCall) -> None:
        port = visits_port(call.request.app)
        await port.leave(await caller_of(call), call.params(VisitPath).visit_id)


def surface(app: web.Application, edge: WebEdge) -> None:
    """The video surface: its API, its guests' way in, its live topics."""
    from kiosk_ui import video_feed, video_guests

    register(edge.api)
    video_guests.register(edge.api)
    video_feed.register(edge.feed)
