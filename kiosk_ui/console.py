"""The switchboard console surface: ``/console`` (role switchboard) and its API.

The page is rendered with every lamp already in its state (first render of a 2,000-bed
hospital in one answer); ``static/js/console.js`` then follows the live feed and acts through
``/api/v1`` with the keyboard shortcuts listed on the page.
"""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web

from kiosk_ui import console_api, nurse_call_api, pbx_status
from kiosk_ui.auth import require
from kiosk_ui.lamps import lamp_layout
from kiosk_ui.pages import base_context
from kiosk_ui.state import WebEdge

JS_MESSAGES = {
    "No call is waiting.",
    "Waiting",
    "Caller",
    "Called",
    "State",
    "Duration",
    "Handled by",
    "Answer",
    "Transfer",
    "Attended",
    "Park",
    "Pick up",
    "Hang up",
    "Call",
    "Calling {to}",
    "Your call",
    "Telephony unavailable since {time}: calls, lamps and timers are not live.",
    "Hang up this call, which is not on your phone? Press H again (or the button) to confirm.",
    "Confirm hang-up",
    "Complete transfer",
    "Cancel transfer",
    "Transfer completed",
    "Transfer cancelled",
    "Transferring to {to}: speak to them, then complete or cancel.",
    "Telephony is unavailable: nothing was sent.",
    "The PBX did not answer in time: check the call before trying again.",
    "The PBX refused the action.",
    "PBX said: {detail}",
    "Something went wrong: nothing was changed.",
    "Transferred to {to}",
    "Parked on {space}",
    "Answered on my phone",
    "Hung up",
    "Nothing found.",
    "since",
    "queued",
    "ringing",
    "talking",
    "parked",
    "on_hold",
    "dialing",
    "patient",
    "bed",
    "phone",
    "Select a call first.",
    "Live feed lost: reconnecting…",
    "Live",
    "No nurse call.",
    "level {level}",
    "Acknowledge",
    "Acknowledged",
    "the station could not be rung",
    "only a nurse or the switchboard may acknowledge",
    "the call is already cleared",
    "open",
    "acknowledged",
    "answered",
    "no_answer",
    "busy",
    "failed",
    "abandoned",
    "merged",
    "unknown",
    # refusals the server explains (their ids are English messages)
    "another operator is already handling this call",
    "no call is waiting",
    "choose your switchboard phone first",
    "this call no longer exists",
}


async def console_page(request: web.Request) -> web.StreamResponse:
    user = await require(request, ("switchboard",))
    context = await base_context(request, user)
    context["layout"] = await lamp_layout(request.app)
    return aiohttp_jinja2.render_template("console.html.j2", request, context)


def register(app: web.Application, edge: WebEdge) -> None:
    app.router.add_get("/console", console_page)
    pbx_status.track(app)
    console_api.register(edge.api)
    nurse_call_api.register(edge.api)
    edge.js_messages.update(JS_MESSAGES)
