"""The five rights of an administration at the bed, plausible ranges of vital signs, and the
nurse's view of the record (pure functions over the clinical record port's values).

Every clinical time the nurse reads is rendered here, in the ward's zone (``*_local``): the
page shows these strings as they are and never converts a time itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field

from kiosk_ui.dose_check import DoseMismatch, check_dose, label
from wardline.domain.clinical_record_port import (
    NOT_GIVEN_REASONS,
    BedsideRecord,
    GivenDose,
    MedicationOrder,
    NotGivenReason,
    OutboxItem,
    ScheduledDose,
)
from wardline.domain.errors import Conflict, InvalidInput
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


class DoseAlreadyRecorded(Conflict):
    """The dose already has its record (given or not): nothing is added."""


class AdministrationIn(BaseModel):
    order_id: str = Field(min_length=1, max_length=64)
    due_at: datetime | None = None
    given: bool = True
    wristband: str = Field(max_length=64)
    medication_code: str = Field(default="", max_length=200)
    dose_value: Decimal | None = Field(default=None, ge=0, le=100000, decimal_places=6)
    dose_unit: str = Field(default="", max_length=32)
    partial: bool = False
    dose_confirmed: bool = False
    """The nurse checked the typed dose against the order's text (order without a
    machine-readable dose)."""
    route: str = Field(default="", max_length=100)
    reason: Literal["refused", "absent", "held", "vomited", "other", ""] = ""
    reason_text: str = Field(default="", max_length=200)
    late_reason: str = Field(default="", max_length=200)


@dataclass(frozen=True, kw_only=True)
class CheckedAdministration:
    """What the checks let through, ready for the record."""

    dose: GivenDose | None
    dose_confirmed_text: str | None
    reason: NotGivenReason | None


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
    dose_value: Decimal | None
    """The ordered quantity, when machine-readable and not a range (the form's default)."""
    dose_unit: str | None
    """Its UCUM code."""
    dose_ordered: str | None
    """The machine-readable dose as the nurse reads it (``500 mg``, ``4-8 UI``)."""
    route: str | None
    due_at: datetime
    due_local: str
    """``HH:MM`` in the ward's zone, as the page shows it."""
    window_local: str
    window_start: datetime
    window_end: datetime
    state: str
    recorded_local: str | None
    reason: str | None


class WriteStateOut(BaseModel):
    business_id: str
    kind: str
    state: str
    last_error: str | None


class NurseRecordOut(BaseModel):
    banner: BannerOut
    schedule: list[DoseOut]
    writes: list[WriteStateOut]
    zone: str
    """The ward's time zone, in which every ``*_local`` time is written."""


def local_time(moment: datetime, zone: ZoneInfo) -> str:
    """``HH:MM`` of ``moment`` in the ward's zone."""
    return moment.astimezone(zone).strftime("%H:%M")


def record_out(
    record: BedsideRecord,
    schedule: list[ScheduledDose],
    outbox: list[OutboxItem],
    zone: ZoneInfo,
) -> NurseRecordOut:
    p = record.patient
    orders = {o.order_id: o for o in record.orders}
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
            _dose_out(d, orders.get(d.order_id), routes.get(d.order_id), zone) for d in schedule
        ],
        zone=zone.key,
        writes=[
            WriteStateOut(
                business_id=i.business_id, kind=i.kind, state=i.state, last_error=i.last_error
            )
            for i in outbox
        ],
    )


@dataclass(frozen=True)
class DoseFields:
    """An order's dose as the administration form takes it."""

    value: Decimal | None
    """The ordered quantity, when machine-readable and not a range (the form's default)."""
    unit: str | None
    ordered: str | None
    """The machine-readable dose as the nurse reads it (``500 mg``, ``4-8 UI``)."""


def dose_fields(order: MedicationOrder | None) -> DoseFields:
    ordered = order.ordered_dose if order else None
    first = (ordered.quantity or ordered.low or ordered.high) if ordered else None
    single = ordered.quantity if ordered else None  # a range is the nurse's choice: not filled
    return DoseFields(
        value=single.value if single else None,
        unit=first.unit if first else None,
        ordered=label(ordered) if ordered else None,
    )


def _dose_out(
    d: ScheduledDose, order: MedicationOrder | None, route: str | None, zone: ZoneInfo
) -> DoseOut:
    fields = dose_fields(order)
    return DoseOut(
        order_id=d.order_id,
        medication=d.medication,
        dose=d.dose,
        dose_value=fields.value,
        dose_unit=fields.unit,
        dose_ordered=fields.ordered,
        route=route,
        due_at=d.due_at,
        due_local=local_time(d.due_at, zone),
        window_local=f"{local_time(d.window_start, zone)}-{local_time(d.window_end, zone)}",
        window_start=d.window_start,
        window_end=d.window_end,
        state=d.state,
        recorded_local=local_time(d.recorded_at, zone) if d.recorded_at else None,
        reason=d.reason,
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
) -> CheckedAdministration:
    """Right drug, dose, route and time (the patient is checked first, by the wristband),
    and a dose recorded once."""
    order = next((o for o in record.orders if o.order_id == entry.order_id), None)
    if order is None:
        raise RightsRefused("bedside.unknown_order", "This order is not in the patient's record.")
    if order.status != "active":
        raise RightsRefused("bedside.order_suspended", "This order is suspended.")
    if order.to_clarify:
        raise RightsRefused(
            "bedside.order_unclear", "This order is to clarify with the prescriber."
        )
    if entry.due_at is None and not order.as_needed:
        raise RightsRefused("bedside.unknown_dose", "This dose is not in today's schedule.")
    dose = None
    if entry.due_at is not None:
        dose = next(
            (d for d in schedule if d.order_id == entry.order_id and d.due_at == entry.due_at),
            None,
        )
        if dose is None:
            raise RightsRefused("bedside.unknown_dose", "This dose is not in today's schedule.")
        if dose.state in ("given", "not_given"):
            raise DoseAlreadyRecorded(
                "bedside.dose_already_recorded", "This dose has already been recorded."
            )
    reason: NotGivenReason | None = entry.reason or None
    if reason == "other" and not entry.reason_text.strip():
        raise RightsRefused("bedside.reason_text_needed", "Say why in words.")
    if not entry.given:
        if reason not in NOT_GIVEN_REASONS:
            raise RightsRefused("bedside.reason_needed", "Say why the dose was not given.")
        return CheckedAdministration(dose=None, dose_confirmed_text=None, reason=reason)
    code = entry.medication_code
    if not (_same(code, order.medication) or _same(code, order.order_id)):
        raise RightsRefused(
            "bedside.wrong_medication", "The scanned medication does not match the order."
        )
    given, confirmed = _check_dose(entry, order)
    if entry.partial and reason is None:
        raise RightsRefused(
            "bedside.partial_reason_needed", "Say why only part of the dose was given."
        )
    if order.route and entry.route.strip() and not _same(entry.route, order.route):
        raise RightsRefused(
            "bedside.wrong_route", f"The ordered route is {order.route}.", ordered=order.route
        )
    inside = order.as_needed or (  # "if needed": no due time, no window
        dose is not None and dose.window_start <= now <= dose.window_end
    )
    if not inside and not entry.late_reason.strip():
        raise RightsRefused(
            "bedside.outside_window",
            "This is outside the dose's time window: give a reason.",
        )
    return CheckedAdministration(dose=given, dose_confirmed_text=confirmed, reason=reason)


def _check_dose(entry: AdministrationIn, order: MedicationOrder) -> tuple[GivenDose, str | None]:
    """The dose given, and the order's text when the nurse confirmed a typed dose against it."""
    if entry.dose_value is None or not entry.dose_unit.strip():
        raise RightsRefused("bedside.dose_needed", "Enter the dose given, with its unit.")
    given = GivenDose(value=entry.dose_value, unit=entry.dose_unit.strip())
    ordered = order.ordered_dose
    if ordered is not None:
        try:
            check_dose(given, ordered, partial=entry.partial)
        except DoseMismatch as exc:
            raise RightsRefused(
                exc.error_id, f"the dose does not match the order ({exc.error_id})", **exc.details
            ) from exc
        return given, None
    text = order.dose.strip()
    if not text:
        raise RightsRefused(
            "bedside.order_unclear", "This order is to clarify with the prescriber."
        )
    if not entry.dose_confirmed:
        raise RightsRefused(
            "bedside.confirm_dose",
            f"This order has no machine-readable dose: check against its text ({text}).",
            text=text,
        )
    return given, text


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
                value=value,
                low=low,
                high=high,
            )
    if len({"systolic", "diastolic"} & set(entry.values)) == 1:
        raise InvalidInput(
            "vitals.blood_pressure_half", "A blood pressure has its systolic and diastolic values."
        )
    return dict(entry.values)
