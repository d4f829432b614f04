"""Security of the web border: headers on every answer, CSRF on every state-changing request,
a same-origin check for state changes and the WebSocket, and a per-address rate limiter."""

from __future__ import annotations

import hmac
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp_session import Session, get_session
from yarl import URL

from kiosk_ui.errors import WebError

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_KEY = "csrf"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"


@web.middleware
async def headers_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:  # redirects and the like get the headers too
        _secure(request, exc)
        raise
    _secure(request, response)
    return response


def _secure(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if not request.path.startswith("/static/"):
        response.headers.setdefault("Cache-Control", "no-store")


def csrf_token(session: Session) -> str:
    """The session's token, created on first use (the sign-in page creates it)."""
    token = session.get(CSRF_KEY)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session[CSRF_KEY] = token
    return token


def same_origin(request: web.Request) -> bool:
    """A browser always sends Origin on these requests; a missing one is a non-browser client."""
    origin = request.headers.get("Origin")
    if origin is None or origin == "null":
        return origin is None
    url = URL(origin)
    return url.host == request.url.host and url.port == request.url.port


@web.middleware
async def csrf_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.method in SAFE_METHODS:
        return await handler(request)
    if not same_origin(request):
        raise WebError("auth.origin", "the request comes from another site")
    session = await get_session(request)
    expected = session.get(CSRF_KEY)
    given = request.headers.get(CSRF_HEADER)
    if given is None and request.content_type in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        form = await request.post()
        value = form.get(CSRF_FIELD)
        given = value if isinstance(value, str) else None
    if not isinstance(expected, str) or not given or not hmac.compare_digest(expected, given):
        raise WebError("auth.csrf", "the form expired or did not come from this site")
    return await handler(request)


class RateLimiter:
    """At most ``limit`` hits per ``window`` seconds per client address (sliding window)."""

    def __init__(
        self, limit: int, window: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit, self.window, self.clock = limit, window, clock
        self._hits: dict[str, deque[float]] = {}

    def hit(self, address: str) -> None:
        now = self.clock()
        hits = self._hits.setdefault(address, deque())
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if len(hits) >= self.limit:
            raise WebError(
                "auth.rate_limited",
                "too many attempts from this address: wait a minute",
                retry_after=round(self.window - (now - hits[0])),
            )
        hits.append(now)
        if len(self._hits) > 10_000:  # forget idle addresses, bounded memory
            for key in [k for k, v in self._hits.items() if not v or v[-1] <= now - self.window]:
                del self._hits[key]


def client_address(request: web.Request) -> str:
    return request.remote or "unknown"
