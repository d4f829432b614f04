"""Server-rendered pages: the page helper (role check + base context), sign-in and sign-out,
the language switch and the home page that sends each person to their surface."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from aiohttp_session import get_session
from sqlalchemy import select

from kiosk_ui.auth import SignedIn, current_user, open_session, require
from kiosk_ui.error_messages import for_people, page_refusals
from kiosk_ui.errors import WebError, status_of
from kiosk_ui.i18n import LANG_COOKIE, LANGUAGES, choose_language
from kiosk_ui.security import CSRF_FIELD, client_address, csrf_token
from kiosk_ui.state import WEB, WebEdge
from wardline import appkeys as k
from wardline.db.models import StaffPhone
from wardline.domain.errors import PermissionDenied
from wardline.errors import WardlineError

Surface = Callable[[web.Application, WebEdge], None]
"""Adds a surface's pages, API endpoints, topics and JS messages (see README)."""
PageHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]
HOME_BY_ROLE = (
    ("switchboard", "/console"),
    ("admin", "/admin"),
    ("nurse", "/ward"),
    ("clinician", "/visits"),
)
JS_MESSAGES_KEY = "js_messages"


async def language(request: web.Request) -> str:
    session = await get_session(request)
    return choose_language(request, session.get("lang"), request.app[k.SETTINGS].default_language)


async def base_context(request: web.Request, user: SignedIn | None) -> dict[str, Any]:
    edge = request.app[WEB]
    lang = await language(request)
    tr = edge.catalogs.translator(lang)
    js = {m: tr(m) for m in edge.js_messages}
    return {
        "_": tr,
        "lang": lang,
        "languages": LANGUAGES,
        "user": user,
        "csrf_token": csrf_token(await get_session(request)),
        "csrf_field": CSRF_FIELD,
        "site_name": request.app[k.SETTINGS].site_name,
        "js_messages": json.dumps(js, ensure_ascii=False),
        "js_refusals": json.dumps(page_refusals(tr), ensure_ascii=False),
        "nav": [(path, role) for role, path in HOME_BY_ROLE if user and role in user.roles],
    }


def page(template: str, roles: tuple[str, ...], **extra: Any) -> PageHandler:
    """A page handler admitting ``roles`` only, rendering ``template`` with the base context."""

    async def handler(request: web.Request) -> web.StreamResponse:
        user = await require(request, roles)
        context = await base_context(request, user)
        context.update(extra)
        return aiohttp_jinja2.render_template(template, request, context)

    handler.__name__ = f"page_{template.split('.')[0]}"
    return handler


async def switchboard_phones(request: web.Request) -> list[str]:
    async with request.app[k.DATABASE].sessions() as s:
        rows = await s.scalars(
            select(StaffPhone.extension)
            .where(StaffPhone.kind == "switchboard")
            .order_by(StaffPhone.extension)
        )
        return list(rows)


async def sign_in(
    request: web.Request, username: str, password: str, extension: str | None
) -> SignedIn:
    """Shared by the form and the API: rate limit, throttle, password check, new session."""
    edge = request.app[WEB]
    address = client_address(request)
    edge.limiter.hit(address)
    edge.throttle.check(username, address)
    try:
        staff = await request.app[k.STAFF].authenticate(username, password)
    except PermissionDenied:
        edge.throttle.failed(username, address)
        raise
    edge.throttle.succeeded(username, address)
    if extension and extension not in await switchboard_phones(request):
        raise WebError(
            "signin.extension", "choose one of the switchboard phones", extension=extension
        )
    session = await get_session(request)
    chosen = session.get("lang") or request.cookies.get(LANG_COOKIE)
    if chosen in LANGUAGES:
        lang = str(chosen)  # chosen on this browser: kept
    elif staff.language in LANGUAGES:
        lang = staff.language  # the person's own language
    else:
        lang = await language(request)
    return await open_session(request, staff, extension or None, lang)


def home_of(user: SignedIn) -> str:
    return next((path for role, path in HOME_BY_ROLE if role in user.roles), "/")


async def home(request: web.Request) -> web.StreamResponse:
    user = await current_user(request)
    if user is None:
        raise web.HTTPSeeOther("/signin")
    target = home_of(user)
    if target == "/":
        context = await base_context(request, user)
        return aiohttp_jinja2.render_template("home.html.j2", request, context)
    raise web.HTTPSeeOther(target)


async def signin_form(request: web.Request, error: WardlineError | None = None) -> web.Response:
    context = await base_context(request, await current_user(request))
    context["phones"] = await switchboard_phones(request)
    context["error"] = for_people(error, context["_"]) if error else None
    response = aiohttp_jinja2.render_template("signin.html.j2", request, context)
    if error is not None:
        response.set_status(status_of(error))
    return response


async def signin_page(request: web.Request) -> web.StreamResponse:
    return await signin_form(request)


async def signin_post(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    try:
        user = await sign_in(
            request,
            str(form.get("username", "")),
            str(form.get("password", "")),
            str(form.get("extension", "")) or None,
        )
    except WardlineError as exc:
        return await signin_form(request, exc)
    raise web.HTTPSeeOther(home_of(user))


async def signout_post(request: web.Request) -> web.StreamResponse:
    session = await get_session(request)
    session.invalidate()
    raise web.HTTPSeeOther("/signin")


async def language_post(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    lang = str(form.get("lang", ""))
    if lang not in LANGUAGES:
        raise WebError("lang.unknown", "unknown language", lang=lang)
    await remember_language(request, lang)
    back = str(form.get("back", "/"))
    response = web.HTTPSeeOther(back if back.startswith("/") and "//" not in back else "/")
    set_language_cookie(response, lang)
    raise response


async def remember_language(request: web.Request, lang: str) -> None:
    session = await get_session(request)
    session["lang"] = lang


def set_language_cookie(response: web.StreamResponse, lang: str) -> None:
    response.set_cookie(
        LANG_COOKIE, lang, max_age=365 * 86400, httponly=True, samesite="Strict", path="/"
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/", home)
    app.router.add_get("/signin", signin_page)
    app.router.add_post("/signin", signin_post)
    app.router.add_post("/signout", signout_post)
    app.router.add_post("/lang", language_post)
    app.router.add_get("/ws", live_socket)


async def live_socket(request: web.Request) -> web.StreamResponse:
    return await request.app[WEB].feed.handle(request)
