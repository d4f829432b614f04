"""The nurse at the bed, on the TV's own session: badge (tapped or typed) plus PIN, then this
bed's patient: banner, today's medication schedule, administrations with the five rights
checked, vital signs. Idle sign-out is enforced here (``Settings.nurse_idle_signout_seconds``)
and in the page; a new badge signs the previous nurse out. Every view and write is audited.
"""

from __future__ import annotations

from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, Field

from kiosk_ui import nurse_checks
from kiosk_ui.api import Api, ApiCall
from kiosk_ui.bedside_session import end_nurse_session, open_nurse_session, signed_in_nurse
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
from wardline.errors import WardlineError

JS_MESSAGES = {
    "Medication administration",
    "Vital signs",
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
    "Identity to be checked: nothing clinical is shown or recorded for this patient."
    " Ask the admissions office to check the identity in the EHR.",
}


class BadgeIn(BaseModel):
    badge: str = Field(min_length=4, max_length=128)
    pin: str = Field(min_length=4, max_length=8)


class SignoutIn(BaseModel):
    by: Literal["signout", "back", "home", "patient", "idle", "page"] = "signout"


class NurseOut(BaseModel):
    display_name: str
    idle_seconds: float


class WriteOut(BaseModel):
    business_ids: list[str]
    state: str


def register(app: web.Application, edge: WebEdge) -> None:
    from kiosk_ui import bedside_orders

    edge.js_messages.update(JS_MESSAGES | bedside_orders.JS_MESSAGES)
    api_routes(edge.api)
    bedside_orders.api_routes(edge.api)


async def _audit(
    request: web.Request, actor: str, action: str, place: TerminalPlace, details: dict[str, Any]
) -> None:
    async with request.app[k.DATABASE].session() as s:
        await request.app[k.AUDIT].record(s, actor, action, "bed", place.bed_label, details)


async def stay_at(request: web.Request, place: TerminalPlace) -> StayView:
    stay = await request.app[k.STAYS].stay_for_bed(place.bed_label)
    if stay is None:
        raise Conflict("bedside.no_stay", "no patient in this bed")
    return stay


async def _refused(
    request: web.Request, actor: Actor, place: TerminalPlace, error_id: str, order: str
) -> None:
    await _audit(
        request,
        actor.name,
        "bedside.administration_refused",
        place,
        {"error": error_id, "order": order},
    )


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
        await end_nurse_session(request, place, "next_badge")
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
        await open_nurse_session(request, place, staff)
        return NurseOut(
            display_name=staff.display_name,
            idle_seconds=request.app[k.SETTINGS].nurse_idle_signout_seconds,
        )

    @api.route(
        "POST",
        "/tv/nurse/signout",
        roles=("terminal",),
        summary="The nurse signs out at the bed, or leaves the staff view (Back, Home, idle)",
        body=SignoutIn,
        response=None,
        tags=("bedside",),
    )
    async def nurse_signout(call: ApiCall) -> None:
        place = await require_terminal(call.request)
        await end_nurse_session(call.request, place, call.body(SignoutIn).by)

    @api.route(
        "POST",
        "/tv/nurse/presence",
        roles=("terminal",),
        summary="The nurse is still at the bed (keys pressed): her idle time starts again",
        response=None,
        tags=("bedside",),
    )
    async def nurse_presence(call: ApiCall) -> None:
        await signed_in_nurse(call.request)

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
        zone = await call.request.app[k.WARD_TIME].of_ward(place.ward_code)
        await _audit(
            call.request, actor.name, "bedside.record_view", place, {"visit": stay.visit_number}
        )
        return record_out(record, schedule, outbox, zone)

    @api.route(
        "POST",
        "/tv/nurse/administrations",
        roles=("terminal",),
        summary="Record an administration, or a dose not given (five rights checked, one "
        "record per dose)",
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
            checked = nurse_checks.check_rights(body, record, schedule, now)
            entry = AdministrationInput(
                order_id=body.order_id,
                due_at=body.due_at,
                given=body.given,
                at=now,
                reason=checked.reason,
                reason_text=body.reason_text.strip() or None,
                dose=checked.dose,
                partial=body.partial and body.given,
                dose_confirmed_text=checked.dose_confirmed_text,
                late_reason=body.late_reason.strip() or None,
                scanned_patient_id=body.wristband.strip(),
                scanned_medication=body.medication_code.strip(),
            )
            receipt = await port.record_administration(stay, entry, actor)
        except (nurse_checks.RightsRefused, nurse_checks.DoseAlreadyRecorded) as exc:
            await _refused(call.request, actor, place, exc.error_id, body.order_id)
            raise
        except WardlineError as exc:
            if exc.error_id == "ehr.dose_already_recorded":
                await _refused(call.request, actor, place, exc.error_id, body.order_id)
            raise
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
