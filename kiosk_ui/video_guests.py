"""A guest's way in: the link is checked (public), then the link and the phone code open a
session with role ``guest`` bound to that guest of that visit (a fresh session: no fixation),
rate limited per address like a sign-in and per guest by the visit service (five wrong codes
spend the link). The waiting room reads its state here and on the ``visit_guest`` topic."""

from __future__ import annotations

from aiohttp_session import get_session
from pydantic import BaseModel, Field

from kiosk_ui.api import Api, ApiCall
from kiosk_ui.auth import USER_KEY, SignedIn
from kiosk_ui.security import client_address, csrf_token
from kiosk_ui.session_store import fresh_session
from kiosk_ui.state import WEB
from kiosk_ui.video_api import GUEST_KEY, guest_of, visits_port
from kiosk_ui.video_models import GuestEnterIn, GuestLinkOut, GuestOut, guest_out


class LinkPath(BaseModel):
    link: str = Field(min_length=1, max_length=100)


def guest_user(visit_id: int, guest_id: int, label: str) -> SignedIn:
    return SignedIn(
        username=f"guest:{visit_id}:{guest_id}",
        display_name=label,
        roles=frozenset({"guest"}),
        extension=None,
        ward_code=None,
    )


def register(api: Api) -> None:
    @api.route(
        "GET",
        "/visit-guests/me",
        roles=("guest",),
        summary="The guest's state (waiting, admitted, ...)",
        response=GuestOut,
        tags=("video", "guest"),
    )
    async def guest_me(call: ApiCall) -> GuestOut:
        _visit, guest_id = await guest_of(call.request)
        return guest_out(await visits_port(call.request.app).guest(guest_id))

    @api.route(
        "GET",
        "/visit-guests/{link}",
        roles=None,
        summary="Is this guest link valid",
        response=GuestLinkOut,
        path_params=LinkPath,
        tags=("video", "guest"),
    )
    async def guest_link(call: ApiCall) -> GuestLinkOut:
        call.request.app[WEB].limiter.hit(client_address(call.request))
        view = await visits_port(call.request.app).guest_link(call.params(LinkPath).link)
        return GuestLinkOut(label=view.label, expires_at=view.expires_at)

    @api.route(
        "POST",
        "/visit-guests/enter",
        roles=None,
        summary="Enter the waiting room with the link and the phone code",
        body=GuestEnterIn,
        response=GuestOut,
        tags=("video", "guest"),
    )
    async def guest_enter(call: ApiCall) -> GuestOut:
        call.request.app[WEB].limiter.hit(client_address(call.request))
        body = call.body(GuestEnterIn)
        view = await visits_port(call.request.app).guest_enter(body.link, body.code.strip())
        old = await get_session(call.request)
        lang = old.get("lang")
        session = await fresh_session(call.request)
        session[USER_KEY] = guest_user(view.visit_id, view.guest_id, view.label).as_session()
        session[GUEST_KEY] = [view.visit_id, view.guest_id]
        if lang:
            session["lang"] = lang
        return guest_out(view, csrf_token(session))
