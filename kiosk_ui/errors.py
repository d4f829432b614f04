"""The web border's errors and the one place where HTTP statuses are chosen.

Every expected failure is a :class:`wardline.errors.WardlineError`; the middleware answers it as
JSON ``{error, message, details}`` with a 4xx status (5xx only when a dependency of the service
is down, never for a request's content). Pages get the same answer as JSON when they ask for it
(``/api/``, ``/ws``, ``Accept: application/json``), a short HTML page otherwise.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from aiohttp import web
from aiohttp_session import get_session
from pydantic import ValidationError

from kiosk_ui.error_messages import for_people
from kiosk_ui.i18n import choose_language
from wardline import appkeys as k
from wardline.domain.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from wardline.errors import ConfigError, StorageError, Unavailable, WardlineError

log = structlog.get_logger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class WebError(WardlineError):
    """Failures of the HTTP border itself (authentication, CSRF, rate limit, bad body)."""


def signed_out() -> WebError:
    return WebError("auth.required", "sign in first")


def forbidden_role(required: tuple[str, ...]) -> WebError:
    return WebError("auth.role", "your role does not allow this", required=list(required))


def bad_body(message: str, **details: Any) -> WebError:
    return WebError("request.invalid", message, **details)


# Stable ids whose status differs from their family's.
_BY_ID: dict[str, int] = {
    "auth.required": 401,
    "auth.failed": 401,
    "auth.throttled": 429,
    "auth.role": 403,
    "auth.csrf": 403,
    "auth.origin": 403,
    "auth.rate_limited": 429,
    "request.invalid": 422,
    "request.control_character": 422,
    "request.too_large": 413,
    "route.unknown": 404,
    "route.method": 405,
    "console.no_extension": 409,
    "console.queue_empty": 409,
    "console.no_pbx": 503,
    "signin.extension": 422,
    "lang.unknown": 422,
    "pbx.call_conflict": 409,
    "pbx.unknown_call": 404,
    "pbx.action_failed": 409,
    "pbx.unreachable": 503,
    "pbx.login_refused": 503,
    "pbx.timeout": 504,
    "ehr.identity_to_be_checked": 409,
    "ehr.dose_already_recorded": 409,
    "ehr.wrong_patient": 422,
    "ehr.not_configured": 503,
    "video.code_throttled": 429,
}
_BY_FAMILY: tuple[tuple[type[WardlineError], int], ...] = (
    (NotFound, 404),
    (Conflict, 409),
    (InvalidInput, 422),
    (PermissionDenied, 403),
    (StorageError, 503),
    (Unavailable, 503),
    (ConfigError, 500),
)


def status_of(error: WardlineError) -> int:
    if error.error_id in _BY_ID:
        return _BY_ID[error.error_id]
    for family, status in _BY_FAMILY:
        if isinstance(error, family):
            return status
    return 400


def wants_json(request: web.Request) -> bool:
    path = request.path
    return (
        path.startswith("/api/")
        or path == "/ws"
        or "application/json" in request.headers.get("Accept", "")
    )


def error_response(
    request: web.Request, error: WardlineError, message: str | None = None
) -> web.Response:
    """``message``: the error's message for people, in the page's language (else its own)."""
    status = status_of(error)
    retry = error.details.get("retry_after", 60)
    headers = {"Retry-After": str(retry)} if status == 429 else None
    if error.error_id == "auth.required" and not wants_json(request):
        raise web.HTTPSeeOther("/signin")
    if wants_json(request):
        body = json.dumps(dict(error.as_dict(), message=message or error.message), default=str)
        return web.Response(
            status=status, text=body, content_type="application/json", headers=headers
        )
    text = f"<!doctype html><title>{status}</title><p>{_escape(message or error.message)}</p>"
    text += '<p><a href="/">Wardline</a></p>'
    return web.Response(status=status, text=text, content_type="text/html", headers=headers)


async def _for_people(request: web.Request, error: WardlineError) -> str:
    """The message in the language of the page (session, cookie, browser, default)."""
    from kiosk_ui.state import WEB  # the edge's state holds the API, which uses this module

    if WEB not in request.app:
        return error.message
    try:
        session = await get_session(request)
        chosen = session.get("lang")
    except RuntimeError:  # no session storage on this request
        chosen = None
    lang = choose_language(request, chosen, request.app[k.SETTINGS].default_language)
    return for_people(error, request.app[WEB].catalogs.translator(lang))


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _from_http(exc: web.HTTPException) -> WardlineError:
    if exc.status == 404:
        return WebError("route.unknown", "no such page or endpoint")
    if exc.status == 405:
        return WebError("route.method", "this method is not allowed here")
    if exc.status == 413:
        return WebError("request.too_large", "the request body is too large")
    return WebError(f"http.{exc.status}", exc.reason or "bad request")


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except WardlineError as exc:
        log.info("web.refused", error_id=exc.error_id, path=request.path)
        return error_response(request, exc, await _for_people(request, exc))
    except ValidationError as exc:
        errors = [
            {"loc": ".".join(str(p) for p in e["loc"]), "msg": e["msg"], "type": e["type"]}
            for e in exc.errors(include_input=False, include_url=False)
        ]
        return error_response(request, bad_body("the request is invalid", errors=errors))
    except web.HTTPException as exc:
        if exc.status < 400 or not wants_json(request):
            raise
        response = error_response(request, _from_http(exc))
        if "Allow" in exc.headers:  # a 405 names the methods the resource accepts
            response.headers["Allow"] = exc.headers["Allow"]
        return response
    except Exception:
        log.exception("web.failed", path=request.path)
        error = WebError("internal", "something went wrong on our side")
        response = error_response(request, error)
        response.set_status(500)
        return response
