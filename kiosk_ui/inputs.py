"""Text at the web border: no control character gets past it.

Every piece of text a request carries (path parameters, query string, form fields, JSON
strings and keys) is checked once, by :func:`input_middleware`, before any handler sees it. A
control character (C0 except tab, line feed and carriage return; DEL; C1) is refused with 422
``request.control_character`` naming the field, so it never reaches the database (PostgreSQL
refuses NUL in text) nor a log, a page or the PBX.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from aiohttp import web

from kiosk_ui.errors import WebError

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def control_character_error(where: str, value: str) -> WebError | None:
    """The refusal of ``value`` found at ``where``, or None when it is clean."""
    found = CONTROL.search(value)
    if found is None:
        return None
    code = f"U+{ord(found.group()):04X}"
    return WebError(
        "request.control_character",
        f"{where} holds a control character ({code}): remove it",
        field=where,
        character=code,
    )


def refuse_control_characters(where: str, value: str) -> None:
    error = control_character_error(where, value)
    if error is not None:
        raise error


def _strings(value: Any, where: str) -> Iterator[tuple[str, str]]:
    """Every string of a JSON document, keys included, with its location."""
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, dict):
        for key, item in value.items():
            inner = f"{where}.{key}" if where else str(key)
            yield inner, str(key)
            yield from _strings(item, inner)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _strings(item, f"{where}.{i}" if where else str(i))


async def check_request(request: web.Request) -> None:
    """Refuse the request when any of its texts holds a control character."""
    for name, value in request.match_info.items():
        refuse_control_characters(f"path parameter {name}", value)
    for name, value in request.query.items():
        refuse_control_characters("query parameter", name)
        refuse_control_characters(f"query parameter {name}", value)
    if request.method in ("GET", "HEAD", "OPTIONS") or not request.body_exists:
        return
    if request.content_type in FORM_TYPES:
        form = await request.post()
        for name, field in form.items():
            refuse_control_characters("form field", name)
            if isinstance(field, str):
                refuse_control_characters(f"form field {name}", field)
    elif request.content_type == "application/json":
        try:
            document = json.loads(await request.text())
        except (json.JSONDecodeError, UnicodeDecodeError):
            return  # the endpoint answers the malformed body itself
        for where, value in _strings(document, ""):
            refuse_control_characters(f"field {where or '(body)'}", value)


@web.middleware
async def input_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    await check_request(request)
    return await handler(request)
