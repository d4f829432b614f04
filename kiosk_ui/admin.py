"""The admin surface: ``/admin`` (role admin); ``static/js/admin.js`` fills it from the API."""

from __future__ import annotations

from aiohttp import web

from kiosk_ui import admin_api
from kiosk_ui.pages import page
from kiosk_ui.state import WebEdge

JS_MESSAGES = {
    "Replay",
    "pending",
    "failed",
    "Send again",
    "Close by hand",
    "Why it is closed without the EHR",
    "Sent again to the EHR",
    "Closed by hand",
    "Replayed: {status}",
    "Account {username} created",
    "The audit chain is intact ({rows} rows).",
    "The audit chain is broken at row {seq}: {reason}.",
    "No FHIR server is configured.",
    "Nothing to show.",
    "online",
    "offline",
    "no terminal",
    "free",
    "assigned",
    "quarantined",
    "None",
    "identity.patient.unknown",
    "identity.patient.several",
    "identity.patient.birth_date",
    "identity.patient.ins",
    "identity.encounter.subject",
    "identity.encounter.several",
}


def register(app: web.Application, edge: WebEdge) -> None:
    app.router.add_get("/admin", page("admin.html.j2", ("admin",)))
    admin_api.register(edge.api)
    edge.js_messages.update(JS_MESSAGES)
