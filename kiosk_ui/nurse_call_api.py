"""The console's nurse-call panel: acknowledging a call (``POST /nurse-calls/{id}/acknowledge``).

A nurse (her own ward's calls) or the switchboard takes the call: its rings stop on every
phone, its escalation stops, the terminals are told, and the acknowledgement is an audit row
under the signed-in user's name (the nurse-call service writes it).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from kiosk_ui.api import Api, ApiCall
from kiosk_ui.feeds import STAFF_DESK
from wardline import appkeys as k
from wardline.domain.errors import InvalidInput, NotFound
from wardline.domain.nurse_call_port import NurseCallPort

ROLES = ("switchboard", "nurse")


class NurseCallAckOut(BaseModel):
    call_id: int
    bed_label: str
    state: str
    acknowledged_by: str | None
    acknowledged_at: datetime | None


def nurse_calls(call: ApiCall) -> NurseCallPort:
    port = call.request.app.get(k.NURSE_CALLS)
    if port is None:
        raise NotFound("nurse_call.unavailable", "the nurse call service is not running")
    return port


def register(api: Api) -> None:
    @api.route(
        "POST",
        "/nurse-calls/{call_id}/acknowledge",
        roles=ROLES,
        summary="Take a nurse call: its rings and escalation stop",
        response=NurseCallAckOut,
        tags=("console",),
    )
    async def acknowledge_nurse_call(call: ApiCall) -> NurseCallAckOut:
        raw = call.path("call_id")
        if not raw.isdigit() or len(raw) > 12:
            raise InvalidInput("nurse_call.bad_id", "invalid nurse call id", field="call_id")
        call_id, user, port = int(raw), call.signed_in(), nurse_calls(call)
        if not user.roles & STAFF_DESK and user.ward_code is not None:
            mine = {c.call_id for c in await port.open_calls(user.ward_code)}
            if call_id not in mine:  # another ward's call is not hers to take
                raise NotFound("nurse_call.unknown", "unknown nurse call", call_id=call_id)
        done = await port.acknowledge(call_id, user.username, via="console")
        return NurseCallAckOut(
            call_id=done.call_id, bed_label=done.bed_label, state=done.state,
            acknowledged_by=done.acknowledged_by, acknowledged_at=done.acknowledged_at,
        )  # fmt: skip
