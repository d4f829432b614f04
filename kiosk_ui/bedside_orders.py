"""What the nurse reads beside the schedule: the allergy status (a warning when the EHR holds
no allergy data, distinct from a coded "no known allergy"), each allergy with criticality and
reactions, and the orders that are not on the schedule (suspended, if needed with its
reason, to clarify with the prescriber). An "if needed" order carries what the form needs to
give a dose now (the ordered dose) and when it was last given, in the ward's time, so a
second dose is a decision, not an accident. Audited like every view of clinical data."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from kiosk_ui.api import Api, ApiCall
from kiosk_ui.nurse_checks import dose_fields, local_time
from wardline import appkeys as k
from wardline.domain.clinical_record_port import (
    AllergyStatus,
    BedsideRecord,
    OrderShownAs,
    RecordedAdministration,
)


class AllergyOut(BaseModel):
    substance: str
    criticality: str | None
    category: str | None
    reactions: list[str]


class OrderLineOut(BaseModel):
    order_id: str
    medication: str
    dose: str
    route: str | None
    shown_as: OrderShownAs
    reason: str | None
    """Why suspended, or what "if needed" is for."""
    dose_value: Decimal | None
    dose_unit: str | None
    dose_ordered: str | None
    last_given_local: str | None
    """When a dose of this order was last given (in the record's last day), ward time."""
    minutes_since_given: int | None


class NurseOrdersOut(BaseModel):
    allergy_status: AllergyStatus
    allergies: list[AllergyOut]
    orders: list[OrderLineOut]
    """Every order, with how it is shown (the scheduled ones are also on the schedule)."""


def orders_out(
    record: BedsideRecord,
    recorded: list[RecordedAdministration],
    zone: ZoneInfo,
    now: datetime,
) -> NurseOrdersOut:
    """``recorded``: the recent administrations, the bed's (even not yet delivered) and the
    EHR's: the last time each order was given comes from them."""
    p = record.patient
    last: dict[str, datetime] = {}
    for a in recorded:
        if a.given and (a.order_id not in last or a.at > last[a.order_id]):
            last[a.order_id] = a.at
    fields = {o.order_id: dose_fields(o) for o in record.orders}
    return NurseOrdersOut(
        allergy_status=p.allergy_status,
        allergies=[
            AllergyOut(
                substance=a.substance,
                criticality=a.criticality,
                category=a.category,
                reactions=[m for r in a.reactions for m in r.manifestations],
            )
            for a in sorted(p.allergies, key=lambda a: a.criticality != "high")
        ],
        orders=[
            OrderLineOut(
                order_id=o.order_id,
                medication=o.medication,
                dose=o.dose,
                route=o.route,
                shown_as=o.shown_as,
                reason=o.status_reason if o.status == "on_hold" else o.as_needed_reason,
                dose_value=fields[o.order_id].value,
                dose_unit=fields[o.order_id].unit,
                dose_ordered=fields[o.order_id].ordered,
                last_given_local=local_time(at, zone) if (at := last.get(o.order_id)) else None,
                minutes_since_given=int((now - at).total_seconds() // 60) if at else None,
            )
            for o in record.orders
        ],
    )


def api_routes(api: Api) -> None:
    from kiosk_ui.bedside_pages import _audit, stay_at
    from kiosk_ui.bedside_session import signed_in_nurse

    @api.route(
        "GET",
        "/tv/nurse/orders",
        roles=("terminal",),
        summary="This bed's allergies and orders as prescribed, beside the schedule",
        response=NurseOrdersOut,
        tags=("bedside",),
    )
    async def nurse_orders(call: ApiCall) -> NurseOrdersOut:
        place, actor = await signed_in_nurse(call.request)
        stay = await stay_at(call.request, place)
        port = call.request.app[k.CLINICAL_RECORD]
        record = await port.record_for_stay(stay)
        recorded = await port.recorded_administrations(stay)
        zone = await call.request.app[k.WARD_TIME].of_ward(place.ward_code)
        await _audit(
            call.request, actor.name, "bedside.orders_view", place, {"visit": stay.visit_number}
        )
        return orders_out(record, recorded, zone, call.request.app[k.CLOCK]())


JS_MESSAGES = {
    "No allergy recorded: ask the patient and check with the prescriber",
    "No known allergy (coded in the EHR)",
    "Beside the schedule",
    "order suspended",
    "if needed",
    "to clarify with the prescriber",
    "high criticality",
    "Give now",
    "last given at {time} ({minutes} min ago)",
    "if needed, not given in the last 24 h",
}
