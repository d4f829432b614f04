"""The nurse at the bed, on the TV's own session: badge (tapped or typed) plus PIN, then this
bed's patient: banner, today's medication schedule, administrations with the five rights
checked, vital signs. Idle sign-out is enforced here (``Settings.nurse_idle_signout_seconds``)
and in the page; a new badge signs the previous nurse out. Every view and write is audited.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp_session import get_session
from pydantic import BaseModel, Field

from kiosk_ui import nurse_checks
from kiosk_ui.api import Api, ApiCall
from kiosk_ui.nurse_checks import AdministrationIn, NurseRecordOut, VitalsIn, record_out
from kiosk_ui.security import client_address
from kiosk_ui.state import WEB, WebEdge
from kiosk_ui.terminal_auth import TerminalPlace, require_terminal
from wardline import appkeys as k
from wardline.domain.clinical_record_port import AdministrationInput, VitalsInput
from wardline.domain.commands import Actor
from wardline.domain.errors import Conflict, PermissionDenied
from wardline.domain.staff import badge_hash
from wardline.domain.stay_views import StayView

NURSE_KEY = "bedside_nurse"
JS_MESSAGES = {
    "Signed out",
    "Recorded: waiting for the EHR",
    "Delivered to the EHR",
    "Refused by the EHR",
    "due",
    "overdue",
    "given",
    "not_given",
    "Record",
    "The record may be out of date",
}


class BadgeIn(BaseModel):
    badge: str = Field(min_length=4, max_length=128)
    pin: str = Field(min_length=4, max_length=8)


class NurseOut(BaseModel):
    display_name: str
    idle_seconds: float


class WriteOut(BaseModel):
    business_ids: list[str]
    state: str


def register(app: web.Application, edge: WebEdge) -> None:
    edge.js_messages.update(JS_MESSAGES)
    api_routes(edge.api)


async def _audit(
    request: web.Request, actor: str, action: str, place: TerminalPlace, details: dict[str, Any]
) -> None:
    async with request.app[k.DATABASE].session() as s:
        await request.app[k.AUDIT].record(s, actor, action, "bed", place.bed_label, details)


async def signed_in_nurse(request: web.Request) -> tuple[TerminalPlace, Actor]:
    """The nurse signed in at this terminal, not idle for too long (else signed out)."""
    place = await require_terminal(request)
    session = await get_session(request)
    nurse = session.get(NURSE_KEY)
    now = request.app[k.CLOCK]().timestamp()
    if not isinstance(nurse, dict):
        raise PermissionDenied("bedside.nurse_signed_out", "tap your badge and type your PIN")
    idle = request.app[k.SETTINGS].nurse_idle_signout_seconds
    if now - float(nurse["last"]) > idle:
        session.pop(NURSE_KEY, None)
        await _audit(request, str(nurse["username"]), "bedside.nurse_idle_signout", place, {})
        raise PermissionDenied("bedside.nurse_signed_out", "signed out after a while without input")
    session[NURSE_KEY] = {**nurse, "last": now}
    return place, Actor(name=str(nurse["username"]), roles=frozenset({"nurse"}))


async def stay_at(request: web.Request, place: TerminalPlace) -> StayView:
    stay = await request.app[k.STAYS].stay_for_bed(place.bed_label)
    if stay is None:
        raise Conflict("bedside.no_stay", "no patient in this bed")
    return stay


def api_routes(api: Api) -> None:
    @api.route(
        "POST",
        "/tv/nurse/signin",
        roles=("terminal",),
        summary="A nurse signs in at the bed with badge and PIN",
        body=BadgeIn,
        response=NurseOut,
        tags=("bedside",),
    )
    async def nurse_signin(call: ApiCall) -> NurseOut:
        request = call.request
        place = await require_terminal(request)
        session = await get_session(request)
        previous = session.pop(NURSE_KEY, None)
        if isinstance(previous, dict):
            await _audit(
                request,
                str(previous["username"]),
                "bedside.nurse_signout",
                place,
                {"by": "next_badge"},
            )
        body = call.body(BadgeIn)
        throttle, badge = request.app[WEB].throttle, "badge:" + badge_hash(body.badge)
        throttle.check(badge, client_address(request))
        try:
            staff = await request.app[k.STAFF].authenticate_badge(body.badge, body.pin)
        except PermissionDenied:
            throttle.failed(badge, client_address(request))
            raise
        throttle.succeeded(badge, client_address(request))
        if "nurse" not in staff.roles:
            raise PermissionDenied("auth.role", "only nurses sign in at the bed")
        now = request.app[k.CLOCK]().timestamp()
        session[NURSE_KEY] = {
            "username": staff.username,
            "display_name": staff.display_name,
            "last": now,
        }
        await _audit(request, staff.username, "bedside.nurse_signin", place, {})
        return NurseOut(
            display_name=staff.display_name,
            idle_seconds=request.app[k.SETTINGS].nurse_idle_signout_seconds,
        )

    @api.route(
        "POST",
        "/tv/nurse/signout",
        roles=("terminal",),
        summary="The nurse signs out at the bed",
        response=None,
        tags=("bedside",),
    )
    async def nurse_signout(call: ApiCall) -> None:
        place = await require_terminal(call.request)
        nurse = (await get_session(call.request)).pop(NURSE_KEY, None)
        if isinstance(nurse, dict):
            await _audit(call.request, str(nurse["username"]), "bedside.nurse_signout", place, {})

    @api.route(
        "GET",
        "/tv/nurse/record",
        roles=("terminal",),
        summary="This bed's patient for the nurse: banner, today's schedule, writes",
        response=NurseRecordOut,
        tags=("bedside",),
    )
    async def nurse_record(call: ApiCall) -> NurseRecordOut:
        place, actor = await signed_in_nurse(call.request)
        stay = await stay_at(call.request, place)
        port = call.request.app[k.CLINICAL_RECORD]
        record = await port.record_for_stay(stay)
        schedule = await port.medication_schedule(stay)
        outbox = await port.outbox_state(stay.visit_number)
        await _audit(
            call.request, actor.name, "bedside.record_view", place, {"visit": stay.visit_number}
        )
        return record_out(record, schedule, outbox)

    @api.route(
        "POST",
        "/tv/nurse/administrations",
        roles=("terminal",),
        summary="Record an administration (five rights checked)",
        body=AdministrationIn,
        response=WriteOut,
        status=201,
        tags=("bedside",),
    )
    async def nurse_administration(call: ApiCall) -> WriteOut:
        place, actor = await signed_in_nurse(call.request)
        stay = await stay_at(call.request, place)
        body = call.body(AdministrationIn)
        port = call.request.app[k.CLINICAL_RECORD]
        now = call.request.app[k.CLOCK]()
        try:
            nurse_checks.check_wristband(body, stay)
            record = await port.record_for_stay(stay)
            schedule = await port.medication_schedule(stay)
            nurse_checks.check_rights(body, record, schedule, now)
        except nurse_checks.RightsRefused as exc:
            await _audit(
                call.request,
                actor.name,
                "bedside.administration_refused",
                place,
                {"error": exc.error_id, "order": body.order_id},
            )
            raise
        entry = AdministrationInput(
            order_id=body.order_id,
            due_at=body.due_at,
            given=body.given,
            at=now,
            reason=body.reason or None,
            scanned_patient_id=body.wristband.strip(),
            scanned_medication=body.medication_code.strip(),
        )
        receipt = await port.record_administration(stay, entry, actor)
        return WriteOut(business_ids=list(receipt.business_ids), state=receipt.state)

    @api.route(
        "POST",
        "/tv/nurse/vitals",
        roles=("terminal",),
        summary="Record vital signs (plausible ranges checked)",
        body=VitalsIn,
        response=WriteOut,
        status=201,
        tags=("bedside",),
    )
    async def nurse_vitals(call: ApiCall) -> WriteOut:
        place, actor = await signed_in_nurse(call.request)
        stay = await stay_at(call.request, place)
        values = nurse_checks.check_vitals(call.body(VitalsIn))
        now = call.request.app[k.CLOCK]()
        receipt = await call.request.app[k.CLINICAL_RECORD].record_vitals(
            stay, VitalsInput(at=now, values=values), actor
        )
        return WriteOut(business_ids=list(receipt.business_ids), state=receipt.state)
