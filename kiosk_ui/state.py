"""The web edge's own state in the application: API registry, live feed, catalogs, limiter,
session store and sign-in throttle."""

from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import web

from kiosk_ui.api import Api
from kiosk_ui.i18n import Catalogs
from kiosk_ui.live import LiveFeed
from kiosk_ui.options import WebOptions
from kiosk_ui.security import RateLimiter
from kiosk_ui.session_store import SessionStore
from kiosk_ui.throttle import SignInThrottle


@dataclass
class WebEdge:
    options: WebOptions
    api: Api
    feed: LiveFeed
    catalogs: Catalogs
    limiter: RateLimiter
    sessions: SessionStore
    throttle: SignInThrottle = field(default_factory=SignInThrottle)
    js_messages: set[str] = field(default_factory=set)
    """Message ids the pages' scripts need, sent translated in each page."""


WEB = web.AppKey("kiosk_ui", WebEdge)
