"""The pages of video visits (issue 17): the staff page at ``/visits`` (clinicians and nurses:
invite, follow, admit, end, and the ward's list of visits) and the guest page at
``/visit/guest/{link}`` (the phone code, the waiting room, the visit). The TV's side lives in its
own page (``tv.html.j2`` and ``static/js/tv_visit.js``); this module gives it the policy and
the words it needs.

Media never pass through here: the browsers talk to Janus with what ``POST
/api/v1/visits/{id}/join`` gives them (docs/video.md). So these pages, and the TV's, are the
only ones whose policy lets them reach Janus (``connect-src``) and use the camera and the
microphone (``Permissions-Policy``); every other page keeps the foundation's.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import aiohttp_jinja2
from aiohttp import web

from kiosk_ui import inventory_read
from kiosk_ui.auth import current_user, require
from kiosk_ui.error_messages import MESSAGES, for_people
from kiosk_ui.pages import base_context
from kiosk_ui.security import CSP, SECURITY_HEADERS
from kiosk_ui.state import WebEdge
from wardline import appkeys as k
from wardline.errors import WardlineError
from wardline.settings import Settings

STAFF_ROLES = ("clinician", "nurse")
MEDIA_PERMISSIONS = "camera=(self), microphone=(self), geolocation=()"
MAX_GUESTS = 2  # the TV and the staff who invites take two of the four places
JS_MESSAGES = {
    "Video visit from {name}",
    "With {names}",
    "Camera and microphone on",
    "The video visit has ended",
    "You declined the video visit",
    "Waiting for the patient to accept",
    "Invitation sent",
    "Link",
    "Code",
    "Give the code by phone; the link works once.",
    "Admit",
    "End",
    "Join",
    "Leave",
    "Invited",
    "In progress",
    "Declined",
    "Ended",
    "Waiting",
    "Admitted",
    "In the visit",
    "Left",
    "No video visit",
    "Please wait: the care team will let you in.",
    "Connecting…",
    "The video connection was lost",
}


def janus_origins(settings: Settings) -> list[str]:
    """The origins browsers reach Janus at (WebSocket, and HTTP when configured)."""
    urls = [settings.janus_browser_ws_url, settings.janus_browser_http_url or ""]
    origins = []
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme in ("ws", "wss", "http", "https") and parts.netloc:
            origins.append(f"{parts.scheme}://{parts.netloc}")
    return sorted(set(origins))


def video_enabled(app: web.Application) -> bool:
    return bool(app[k.SETTINGS].video_enabled) and k.VIDEO_VISITS in app


def video_policy(app: web.Application, base: str = CSP) -> str:
    """``base`` with ``connect-src`` opened to Janus (nothing else) when video is on."""
    if not video_enabled(app):
        return base
    extra = " ".join(janus_origins(app[k.SETTINGS]))
    return base.replace("connect-src 'self'", f"connect-src 'self' {extra}".rstrip(), 1)


def allow_media(app: web.Application, response: web.StreamResponse, base: str = CSP) -> None:
    """A video page's headers: Janus in ``connect-src``, the camera and microphone allowed."""
    response.headers["Content-Security-Policy"] = video_policy(app, base)
    if video_enabled(app):
        response.headers["Permissions-Policy"] = MEDIA_PERMISSIONS
    else:
        response.headers["Permissions-Policy"] = SECURITY_HEADERS["Permissions-Policy"]


def register(app: web.Application, edge: WebEdge) -> None:
    app.router.add_get("/visits", staff_page)
    app.router.add_get("/visit/guest/{link}", guest_page)
    edge.js_messages.update(JS_MESSAGES)


async def _context(request: web.Request, user: Any) -> dict[str, Any]:
    context = await base_context(request, user)
    context["video_enabled"] = video_enabled(request.app)
    return context


async def staff_page(request: web.Request) -> web.StreamResponse:
    user = await require(request, STAFF_ROLES)
    context = await _context(request, user)
    app = request.app
    beds = [
        b
        for b in await inventory_read.beds(app[k.DATABASE])
        if user.ward_code is None or b.ward_code == user.ward_code
    ]
    colleagues = [
        s
        for s in await app[k.STAFF].list_users()
        if s.username != user.username
        and getattr(s, "active", True)
        and set(s.roles) & set(STAFF_ROLES)
        and (user.ward_code is None or s.ward_code in (None, user.ward_code))
    ]
    context.update(
        beds=beds,
        colleagues=colleagues,
        ward=user.ward_code or "",
        max_guests=MAX_GUESTS,
    )
    response = aiohttp_jinja2.render_template("visits.html.j2", request, context)
    allow_media(app, response)
    return response


async def guest_page(request: web.Request) -> web.StreamResponse:
    """The guest's page: the link is checked before anything is shown; an expired, spent,
    unknown or foreign link gets one clear message (never a hint of the patient)."""
    link = request.match_info["link"]
    context = await _context(request, await current_user(request))
    context.update(link=link, guest=None, error=None)
    status = 200
    if not video_enabled(request.app):
        context["error"] = context["_"](MESSAGES["video.disabled"])
        status = 503
    else:
        try:
            context["guest"] = await request.app[k.VIDEO_VISITS].guest_link(link)
        except WardlineError as exc:
            context["error"] = for_people(exc, context["_"])
            status = 404 if exc.error_id == "video.link_invalid" else 503
    response = aiohttp_jinja2.render_template("visit_guest.html.j2", request, context)
    response.set_status(status)
    allow_media(request.app, response)
    return response
