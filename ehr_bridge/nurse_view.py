"""What the nurse sees at the bed, as plain JSON-ready data (pure; ``wardline ehr context``).

Banner (identity, allergies or the "no allergy recorded" warning), the orders as prescribed
(with how each is shown: scheduled, suspended, if needed, to clarify with the prescriber), and
the day's schedule with every time in the ward's zone, computed here, never by a browser.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from wardline.domain.clinical_record_port import (
    Allergy,
    BedsideRecord,
    Code,
    DoseQuantity,
    MedicationOrder,
    OrderedDose,
    ScheduledDose,
)

ALLERGY_WARNINGS = {
    "not_recorded": "no allergy recorded: ask the patient and the prescriber",
    "no_known_allergy": None,
    "recorded": None,
}


def _code(code: Code | None) -> dict[str, str] | None:
    return {"system": code.system, "code": code.code, "display": code.display} if code else None


def _quantity(q: DoseQuantity | None) -> dict[str, Any] | None:
    if q is None:
        return None
    return {"value": format(q.value.normalize(), "f"), "unit": q.unit, "unit_text": q.unit_text}


def ordered_dose(dose: OrderedDose | None) -> dict[str, Any] | None:
    if dose is None:
        return None
    if dose.quantity is not None:
        return {"quantity": _quantity(dose.quantity)}
    return {"low": _quantity(dose.low), "high": _quantity(dose.high)}


def _allergy(a: Allergy) -> dict[str, Any]:
    return {
        "substance": a.substance,
        "code": _code(a.code),
        "category": a.category,
        "criticality": a.criticality,
        "verification": a.verification,
        "reactions": [
            {
                "manifestations": list(r.manifestations),
                "severity": r.severity,
                "description": r.description,
            }
            for r in a.reactions
        ],
    }


def _order(o: MedicationOrder) -> dict[str, Any]:
    return {
        "order_id": o.order_id,
        "shown_as": o.shown_as,
        "medication": o.medication,
        "medication_code": _code(o.medication_code),
        "dose": o.dose,
        "ordered_dose": ordered_dose(o.ordered_dose),
        "route": o.route,
        "route_code": _code(o.route_code),
        "status": o.status,
        "status_reason": o.status_reason,
        "as_needed_reason": o.as_needed_reason,
    }


def _local(moment: datetime, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).isoformat(timespec="minutes")


def _dose(d: ScheduledDose, tz: ZoneInfo) -> dict[str, Any]:
    return {
        "order_id": d.order_id,
        "medication": d.medication,
        "dose": d.dose,
        "ordered_dose": ordered_dose(d.ordered_dose),
        "route": d.route,
        "due_at": _local(d.due_at, tz),
        "time": d.due_at.astimezone(tz).strftime("%H:%M"),
        "window": [_local(d.window_start, tz), _local(d.window_end, tz)],
        "state": d.state,
        "recorded_at": _local(d.recorded_at, tz) if d.recorded_at else None,
    }


def nurse_view(
    bed: str, record: BedsideRecord, schedule: list[ScheduledDose], day: date, tz: ZoneInfo
) -> dict[str, Any]:
    p = record.patient
    return {
        "bed": bed,
        "visit_number": record.visit_number,
        "identity": "checked",
        "banner": {
            "family_name": p.family_name,
            "given_name": p.given_name,
            "birth_date": p.birth_date.isoformat() if p.birth_date else None,
            "sex": p.sex,
            "identifiers": [list(i) for i in p.identifiers],
            "allergy_status": p.allergy_status,
            "allergy_warning": ALLERGY_WARNINGS[p.allergy_status],
            "allergies": [_allergy(a) for a in p.allergies],
            "diets": list(p.diets),
        },
        "orders": [_order(o) for o in record.orders],
        "schedule": {
            "day": day.isoformat(),
            "time_zone": tz.key,
            "doses": [_dose(d, tz) for d in schedule],
        },
        "stale": record.stale,
        "fetched_at": _local(record.fetched_at, tz),
    }


def identity_view(bed: str, visit_number: str, reason: str) -> dict[str, Any]:
    """What the nurse sees when the identity is to be checked: nothing clinical."""
    return {
        "bed": bed,
        "visit_number": visit_number,
        "identity": "to_be_checked",
        "reason": reason,
    }
