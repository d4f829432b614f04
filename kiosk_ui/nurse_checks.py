"""The five rights of an administration at the bed, plausible ranges of vital signs, and the
nurse's view of the record (pure functions over the clinical record port's values)."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from wardline.domain.clinical_record_port import (
    BedsideRecord,
    OutboxItem,
    ScheduledDose,
)
from wardline.domain.errors import InvalidInput
from wardline.domain.stay_views import StayView

PLAUSIBLE: dict[str, tuple[float, float]] = {
    "heart_rate": (20, 250),
    "temperature": (30, 43),
    "spo2": (50, 100),
    "respiratory_rate": (4, 60),
    "systolic": (50, 260),
    "diastolic": (20, 160),
}


class RightsRefused(InvalidInput):
    """One of the five rights does not hold: nothing is recorded."""


class AdministrationIn(BaseModel):
    order_id: str
    due_at: datetime | None = None
    given: bool = True
    wristband: str = Field(max_length=64)
    medication_code: str = Field(default="", max_length=200)
    dose: str = Field(default="", max_length=100)
    route: str = Field(default="", max_length=100)
    reason: str = Field(default="", max_length=200)


class VitalsIn(BaseModel):
    values: dict[str, float] = Field(max_length=6)


class BannerOut(BaseModel):
    family_name: str
    given_name: str
    birth_date: date | None
    identifiers: list[tuple[str, str]]
    allergies: list[str]
    stale: bool
    age_seconds: float


class DoseOut(BaseModel):
    order_id: str
    medication: str
    dose: str
    route: str | None
    due_at: datetime
    window_start: datetime
    window_end: datetime
    state: str


class WriteStateOut(BaseModel):
    business_id: str
    kind: str
    state: str
    last_error: str | None


class NurseRecordOut(BaseModel):
    banner: BannerOut
    schedule: list[DoseOut]
    writes: list[WriteStateOut]


def record_out(
    record: BedsideRecord, schedule: list[ScheduledDose], outbox: list[OutboxItem]
) -> NurseRecordOut:
    p = record.patient
    routes = {o.order_id: o.route for o in record.orders}
    return NurseRecordOut(
        banner=BannerOut(
            family_name=p.family_name,
            given_name=p.given_name,
            birth_date=p.birth_date,
            identifiers=list(p.identifiers),
            allergies=[a.substance for a in p.allergies],
            stale=record.stale,
            age_seconds=record.age_seconds,
        ),
        schedule=[
            DoseOut(
                order_id=d.order_id,
                medication=d.medication,
                dose=d.dose,
                route=routes.get(d.order_id),
                due_at=d.due_at,
                window_start=d.window_start,
                window_end=d.window_end,
                state=d.state,
            )
            for d in schedule
        ],
        writes=[
            WriteStateOut(
                business_id=i.business_id, kind=i.kind, state=i.state, last_error=i.last_error
            )
            for i in outbox
        ],
    )


def _same(a: str, b: str) -> bool:
    return a.strip().casefold() == b.strip().casefold()


def check_wristband(entry: AdministrationIn, stay: StayView) -> None:
    if not _same(entry.wristband, stay.patient.ipp):
        raise RightsRefused(
            "bedside.wrong_patient",
            "This wristband is not this bed's patient: nothing was recorded.",
        )


def check_rights(
    entry: AdministrationIn,
    record: BedsideRecord,
    schedule: list[ScheduledDose],
    now: datetime,
) -> None:
    """Right drug, dose, route and time (the patient is checked first, by the wristband)."""
    order = next((o for o in record.orders if o.order_id == entry.order_id), None)
    if order is None:
        raise RightsRefused("bedside.unknown_order", "This order is not in the patient's record.")
    if not entry.given:
        if not entry.reason.strip():
            raise RightsRefused("bedside.reason_needed", "Say why the dose was not given.")
        return
    code = entry.medication_code
    if not (_same(code, order.medication) or _same(code, order.order_id)):
        raise RightsRefused(
            "bedside.wrong_medication", "The scanned medication does not match the order."
        )
    if not _same(entry.dose, order.dose):
        raise RightsRefused("bedside.wrong_dose", f"The ordered dose is {order.dose}.")
    if order.route and not _same(entry.route, order.route):
        raise RightsRefused("bedside.wrong_route", f"The ordered route is {order.route}.")
    dose = next(
        (d for d in schedule if d.order_id == entry.order_id and d.due_at == entry.due_at), None
    )
    inside = dose is not None and dose.window_start <= now <= dose.window_end
    if not inside and not entry.reason.strip():
        raise RightsRefused(
            "bedside.outside_window",
            "This is outside the dose's time window: give a reason.",
        )


def check_vitals(entry: VitalsIn) -> dict[str, float]:
    if not entry.values:
        raise InvalidInput("vitals.empty", "Enter at least one vital sign.")
    for kind, value in entry.values.items():
        if kind not in PLAUSIBLE:
            raise InvalidInput("vitals.unknown", f"Unknown vital sign {kind}.", kind=kind)
        low, high = PLAUSIBLE[kind]
        if not low <= value <= high:
            raise InvalidInput(
                "vitals.implausible",
                f"{kind} {value:g} is outside {low:g}-{high:g}: check the measurement.",
                kind=kind,
            )
    return dict(entry.values)
