"""Wiring of the web edge: ``setup(app)`` (the composition root calls it after the other edges).

Adds, in order, the security-header and error middlewares, the sessions held on the server, the
CSRF check, the templates and static files, the pages, the ``/api/v1`` endpoints with their
OpenAPI document, and the live feed at ``/ws`` (a bus subscriber, closed at shutdown).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import aiohttp_jinja2
import aiohttp_session
import jinja2
from aiohttp import web

from kiosk_ui import admin, console, feeds, pages, session_api, static_files
from kiosk_ui.api import Api
from kiosk_ui.errors import error_middleware
from kiosk_ui.i18n import Catalogs
from kiosk_ui.inputs import input_middleware
from kiosk_ui.live import LiveFeed
from kiosk_ui.options import WebOptions
from kiosk_ui.security import RateLimiter, csrf_middleware, headers_middleware
from kiosk_ui.session_store import ServerStorage, SessionStore, purger
from kiosk_ui.state import WEB, WebEdge
from wardline import appkeys as k
from wardline.domain.session_events import SessionsEnded

HERE = Path(__file__).resolve().parent
SESSION_COOKIE = "WARDLINE_SESSION"


def setup(app: web.Application, options: WebOptions | None = None) -> None:
    options = options or WebOptions()
    edge = WebEdge(
        options=options,
        api=Api(title=f"{app[k.SETTINGS].site_name} API"),
        feed=LiveFeed(),
        catalogs=Catalogs.load(),
        limiter=RateLimiter(options.signin_attempts, options.signin_window_seconds),
        sessions=SessionStore(
            app[k.DATABASE],
            app[k.CLOCK],
            idle=timedelta(minutes=options.session_idle_minutes),
            absolute=timedelta(hours=options.session_hours),
        ),
    )
    app[WEB] = edge
    app.middlewares.append(headers_middleware)
    app.middlewares.append(error_middleware)
    app.middlewares.append(input_middleware)
    storage = ServerStorage(edge.sessions, cookie_name=SESSION_COOKIE, secure=options.cookie_secure)
    aiohttp_session.setup(app, storage)
    app.cleanup_ctx.append(
        purger(edge.sessions, lambda: edge.feed.close_ended(edge.sessions.alive))
    )
    app.middlewares.append(csrf_middleware)
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    static_files.setup(app, HERE / "static")
    pages.add_routes(app)
    session_api.register(edge.api)
    feeds.register(edge.feed)
    for register in extra_surfaces():
        register(app, edge)
    edge.api.add_to(app)
    edge.feed.subscribe(app[k.BUS])
    bus = app[k.BUS]
    edge.sessions.on_end = lambda ids: bus.publish(SessionsEnded(session_ids=ids))
    app.cleanup_ctx.append(_feed_context)


def extra_surfaces() -> list[pages.Surface]:
    """The surfaces built on the foundation (console, admin, and issue 8's bedside pages)."""
    from kiosk_ui import tv

    return [console.register, admin.register, tv.register]


async def _feed_context(app: web.Application) -> AsyncIterator[None]:
    yield
    await app[WEB].feed.close_all()
