"""FHIR R4 MedicationRequests to the domain's medication orders (pure; read side).

The rules (docs/fhir.md, "Read"): the order is read from its structured dosage
(``doseAndRate``, ``route``, ``timing.repeat``, ``asNeeded[x]``), never from ``dosage.text``
alone; the medication from ``medicationCodeableConcept`` or a ``medicationReference`` to a
contained or a server Medication; ``status`` and ``intent`` decide whether the order is shown
and whether it can be due. An active order that cannot be scheduled is kept, marked "to
clarify with the prescriber".
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

from wardline.domain.clinical_record_port import (
    Code,
    DoseQuantity,
    DoseTiming,
    MedicationOrder,
    OrderedDose,
    OrderStatus,
)

Resource = dict[str, Any]
UCUM = "http://unitsofmeasure.org"
SHOWN_STATUSES: dict[str, OrderStatus] = {"active": "active", "on-hold": "on_hold"}
"""Statuses shown to the nurse; stopped, cancelled, completed, entered-in-error, draft and
unknown orders are never shown nor due."""
EXECUTABLE_INTENTS = frozenset(
    {"order", "original-order", "reflex-order", "filler-order", "instance-order"}
)
"""Intents a nurse acts on; proposal, plan, directive and option are not orders."""
TIMING_UNITS = frozenset({"s", "min", "h", "d", "wk"})
"""Period units the schedule can place (``mo`` and ``a`` are left to the prescriber)."""


def coded(concept: Any) -> Code | None:
    """The first coding with both a system and a code."""
    if not isinstance(concept, dict):
        return None
    for coding in concept.get("coding") or []:
        if isinstance(coding, dict) and coding.get("system") and coding.get("code"):
            return Code(
                system=str(coding["system"]),
                code=str(coding["code"]),
                display=str(coding.get("display") or ""),
            )
    return None


def has_code(concept: Any, system: str, codes: frozenset[str] | set[str]) -> bool:
    """Whether a CodeableConcept holds one of ``codes`` in ``system`` (display ignored)."""
    if not isinstance(concept, dict):
        return False
    return any(
        isinstance(c, dict) and c.get("system") == system and c.get("code") in codes
        for c in concept.get("coding") or []
    )


def label(concept: Any) -> str:
    """What a person reads for a concept: its text, else a coding's display, else a code."""
    if not isinstance(concept, dict):
        return ""
    if concept.get("text"):
        return str(concept["text"])
    for coding in concept.get("coding") or []:
        if isinstance(coding, dict) and (coding.get("display") or coding.get("code")):
            return str(coding.get("display") or coding.get("code"))
    return ""


def parse_datetime(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def quantity(value: Any) -> DoseQuantity | None:
    """A Quantity with a UCUM code; None when it has no number or no UCUM unit (the nurse
    then confirms a typed dose against the order's text)."""
    if not isinstance(value, dict) or value.get("value") is None:
        return None
    if value.get("system") != UCUM or not value.get("code"):
        return None
    try:
        number = Decimal(str(value["value"]))
    except InvalidOperation:
        return None
    if not number.is_finite():
        return None
    return DoseQuantity(
        value=number, unit=str(value["code"]), unit_text=str(value.get("unit") or value["code"])
    )


def _rate_type(entry: Resource) -> str | None:
    code = coded(entry.get("type"))
    return code.code if code else None


def ordered_dose(dosage: Resource) -> OrderedDose | None:
    """``doseAndRate``: the entry typed ``ordered`` (or untyped), its doseQuantity or
    doseRange."""
    entries = [e for e in dosage.get("doseAndRate") or [] if isinstance(e, dict)]
    ordered = [e for e in entries if _rate_type(e) in (None, "ordered")] or entries
    for entry in ordered:
        if "doseQuantity" in entry:
            single = quantity(entry["doseQuantity"])
            if single is not None:
                return OrderedDose(quantity=single)
        if "doseRange" in entry:
            span = entry["doseRange"] if isinstance(entry["doseRange"], dict) else {}
            low, high = quantity(span.get("low")), quantity(span.get("high"))
            if low is not None or high is not None:
                return OrderedDose(low=low, high=high)
    return None


def _amount(q: DoseQuantity) -> str:
    return f"{q.value.normalize():f} {q.unit_text}".strip()


def dose_text(dose: OrderedDose | None) -> str:
    if dose is None:
        return ""
    if dose.quantity is not None:
        return _amount(dose.quantity)
    low = _amount(dose.low) if dose.low else "…"
    high = _amount(dose.high) if dose.high else "…"
    return f"{low} – {high}"


def _time_of_day(value: Any) -> time | None:
    try:
        return time.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _object(value: Any) -> Resource:
    return value if isinstance(value, dict) else {}


def timing(dosage: Resource) -> DoseTiming:
    timing_ = _object(dosage.get("timing"))
    repeat = _object(timing_.get("repeat"))
    bounds = _object(repeat.get("boundsPeriod"))
    times = tuple(t for t in (_time_of_day(v) for v in repeat.get("timeOfDay") or []) if t)
    frequency = repeat.get("frequency")
    count = repeat.get("count")
    offset = repeat.get("offset")
    return DoseTiming(
        frequency=frequency if isinstance(frequency, int) and frequency > 0 else None,
        period=_number(repeat.get("period")),
        period_unit=repeat.get("periodUnit") if isinstance(repeat.get("periodUnit"), str) else None,
        times_of_day=times,
        when=tuple(str(w) for w in repeat.get("when") or []),
        offset_minutes=offset if isinstance(offset, int) else 0,
        bounds_start=parse_datetime(bounds.get("start")),
        bounds_end=parse_datetime(bounds.get("end")),
        as_needed=as_needed(dosage)[0],
        count=count if isinstance(count, int) and count > 0 else None,
    )


def as_needed(dosage: Resource) -> tuple[bool, str | None]:
    """(as needed, reason): ``asNeededBoolean`` true, or any ``asNeededCodeableConcept``."""
    concept = dosage.get("asNeededCodeableConcept")
    if isinstance(concept, dict):
        return True, label(concept) or None
    return dosage.get("asNeededBoolean") is True, None


def _medication(
    request: Resource, medications: Mapping[str, Resource]
) -> tuple[str, Code | None, bool]:
    """(label, code, resolved) of the ordered medication."""
    concept = request.get("medicationCodeableConcept")
    if isinstance(concept, dict):
        return label(concept), coded(concept), bool(label(concept))
    ref = request.get("medicationReference")
    ref = ref if isinstance(ref, dict) else {}
    target: Resource | None = None
    value = str(ref.get("reference") or "")
    if value.startswith("#"):
        target = next(
            (
                c
                for c in request.get("contained") or []
                if isinstance(c, dict)
                and c.get("resourceType") == "Medication"
                and c.get("id") == value[1:]
            ),
            None,
        )
    elif value:
        key = "Medication/" + value.split("Medication/", 1)[-1].split("/_history")[0]
        target = medications.get(key)
    if target is not None and label(target.get("code")):
        return label(target.get("code")), coded(target.get("code")), True
    return str(ref.get("display") or ""), None, False


def schedulable(t: DoseTiming, known_when: frozenset[str]) -> bool:
    """Whether the schedule can place the doses of a timing (else: to clarify)."""
    if t.times_of_day:
        return True
    if t.when:
        return all(code in known_when for code in t.when)
    return bool(t.frequency and t.period and t.period_unit in TIMING_UNITS)


def order(
    request: Resource, medications: Mapping[str, Resource], known_when: frozenset[str]
) -> MedicationOrder | None:
    """One MedicationRequest as the nurse sees it; None when it is not shown (not an order,
    or not active nor on hold)."""
    status = SHOWN_STATUSES.get(str(request.get("status")))
    if status is None:
        return None
    if request.get("intent") is not None and request.get("intent") not in EXECUTABLE_INTENTS:
        return None
    medication, medication_code, resolved = _medication(request, medications)
    dosages = [d for d in request.get("dosageInstruction") or [] if isinstance(d, dict)]
    needed = [as_needed(d) for d in dosages]
    is_as_needed = bool(needed) and all(flag for flag, _ in needed)
    reason = next((r for flag, r in needed if flag and r), None)
    dose = next((d for d in (ordered_dose(x) for x in dosages) if d is not None), None)
    route_concept = next((d["route"] for d in dosages if isinstance(d.get("route"), dict)), None)
    texts = [str(d["text"]) for d in dosages if d.get("text")]
    timings = tuple(timing(d) for d in dosages if not as_needed(d)[0])
    to_clarify = not resolved or (
        not is_as_needed and (not timings or not all(schedulable(t, known_when) for t in timings))
    )
    status_reason = request.get("statusReason")
    return MedicationOrder(
        order_id=str(request.get("id", "")),
        medication=medication or "?",
        dose="; ".join(texts) or dose_text(dose),
        route=label(route_concept) or None,
        timings=timings,
        authored_at=parse_datetime(request.get("authoredOn")),
        status=status,
        status_reason=label(status_reason) or None,
        medication_code=medication_code,
        route_code=coded(route_concept),
        ordered_dose=dose,
        as_needed=is_as_needed,
        as_needed_reason=reason,
        to_clarify=to_clarify,
    )


def orders(
    requests: list[Resource], medications: Mapping[str, Resource], known_when: frozenset[str]
) -> list[MedicationOrder]:
    """The orders shown at the bed, in the EHR's order. An active or on-hold order whose
    structure cannot be read is kept, to clarify, rather than dropped."""
    out = []
    for request in requests:
        try:
            shown = order(request, medications, known_when)
        except (AttributeError, TypeError, ValueError, KeyError):
            shown = _unreadable(request)
        if shown is not None:
            out.append(shown)
    return out


def _unreadable(request: Any) -> MedicationOrder | None:
    status = SHOWN_STATUSES.get(str(request.get("status"))) if isinstance(request, dict) else None
    if status is None:
        return None
    return MedicationOrder(
        order_id=str(request.get("id", "")),
        medication=label(request.get("medicationCodeableConcept")) or "?",
        dose="",
        status=status,
        to_clarify=True,
    )


def medication_references(requests: list[Resource]) -> set[str]:
    """``Medication/<id>`` of every server Medication the orders refer to."""
    out = set()
    for request in requests:
        ref = request.get("medicationReference")
        value = str(ref.get("reference") or "") if isinstance(ref, dict) else ""
        if value and not value.startswith("#") and "Medication/" in value:
            out.add("Medication/" + value.split("Medication/", 1)[-1].split("/_history")[0])
    return out
