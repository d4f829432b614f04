"""What the nurse reads beside the schedule: the allergy status (a warning when the EHR holds
no allergy data, distinct from a coded "no known allergy"), each allergy with criticality and
reactions, and the orders that are not on the schedule (suspended, if needed with its
reason, to clarify with the prescriber). Audited like every view of clinical data."""

from __future__ import annotations

from pydantic import BaseModel

from kiosk_ui.api import Api, ApiCall
from wardline import appkeys as k
from wardline.domain.clinical_record_port import AllergyStatus, BedsideRecord, OrderShownAs


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


class NurseOrdersOut(BaseModel):
    allergy_status: AllergyStatus
    allergies: list[AllergyOut]
    orders: list[OrderLineOut]
    """Every order, with how it is shown (the scheduled ones are also on the schedule)."""


def orders_out(record: BedsideRecord) -> NurseOrdersOut:
    p = record.patient
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
        record = await call.request.app[k.CLINICAL_RECORD].record_for_stay(stay)
        await _audit(
            call.request, actor.name, "bedside.orders_view", place, {"visit": stay.visit_number}
        )
        return orders_out(record)


JS_MESSAGES = {
    "No allergy recorded: ask the patient and check with the prescriber",
    "No known allergy (coded in the EHR)",
    "Beside the schedule",
    "order suspended",
    "if needed",
    "to clarify with the prescriber",
    "high criticality",
}
