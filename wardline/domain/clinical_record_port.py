"""The clinical record of a stay, as the bedside pages need it: a port the EHR bridge
implements (``ehr_bridge.clinical_record.EhrClinicalRecord``) and the web edge uses.

Everything here is in hospital terms; no FHIR structure crosses this border.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from typing import Literal, Protocol

from wardline.domain.commands import Actor
from wardline.domain.stay_views import StayView

DoseState = Literal["due", "overdue", "given", "not_given"]
WriteState = Literal["pending", "delivered", "failed", "closed"]


AllergyStatus = Literal["recorded", "no_known_allergy", "not_recorded"]
"""``recorded``: allergies are listed; ``no_known_allergy``: the EHR holds a coded "no known
allergy"; ``not_recorded``: the EHR holds nothing (a warning: unknown is not "none")."""
OrderStatus = Literal["active", "on_hold"]
OrderShownAs = Literal["scheduled", "suspended", "if_needed", "to_clarify"]


@dataclass(frozen=True, kw_only=True)
class Code:
    """A coded concept as the EHR sent it: system and code decide, display is for people."""

    system: str
    code: str
    display: str = ""


@dataclass(frozen=True, kw_only=True)
class AllergyReaction:
    manifestations: tuple[str, ...]
    severity: str | None = None
    """mild, moderate, severe"""
    description: str | None = None


@dataclass(frozen=True, kw_only=True)
class Allergy:
    substance: str
    category: str | None = None
    criticality: str | None = None
    """low, high, unable-to-assess"""
    code: Code | None = None
    verification: str | None = None
    """confirmed, unconfirmed, presumed (refuted and entered-in-error are never shown)"""
    reactions: tuple[AllergyReaction, ...] = ()


@dataclass(frozen=True, kw_only=True)
class DoseQuantity:
    """A quantity with its UCUM unit code (``mg``, ``[iU]``, ``{tbl}``) and the unit as the
    prescriber wrote it (``UI``, ``comprimé``)."""

    value: Decimal
    unit: str
    unit_text: str = ""


@dataclass(frozen=True, kw_only=True)
class OrderedDose:
    """The dose of an order: one quantity, or a range (low and/or high)."""

    quantity: DoseQuantity | None = None
    low: DoseQuantity | None = None
    high: DoseQuantity | None = None

    @property
    def is_range(self) -> bool:
        return self.quantity is None and (self.low is not None or self.high is not None)


@dataclass(frozen=True, kw_only=True)
class PatientBanner:
    family_name: str
    given_name: str
    birth_date: date | None
    sex: str
    identifiers: tuple[tuple[str, str], ...]
    """(label, value) pairs: ("IPP", "100001"), ("INS", ...)."""
    allergies: tuple[Allergy, ...] = ()
    diets: tuple[str, ...] = ()
    allergy_status: AllergyStatus = "not_recorded"

    @property
    def gluten_free(self) -> bool:
        texts = [a.substance for a in self.allergies] + list(self.diets)
        return any("gluten" in t.lower() for t in texts)


@dataclass(frozen=True, kw_only=True)
class DoseTiming:
    """One dosage timing (FHIR Timing.repeat in domain terms)."""

    frequency: int | None = None
    period: float | None = None
    period_unit: str | None = None
    """s, min, h, d, wk (UCUM-like units of FHIR)."""
    times_of_day: tuple[time, ...] = ()
    when: tuple[str, ...] = ()
    """Event codes: MORN, NOON, EVE, NIGHT, HS, WAKE, C, CM, CD, CV, AC, ACM, ACD, ACV, PC..."""
    offset_minutes: int = 0
    bounds_start: datetime | None = None
    bounds_end: datetime | None = None
    as_needed: bool = False
    count: int | None = None
    """Doses in all (Timing.repeat.count), counted from the start of the bounds."""


@dataclass(frozen=True, kw_only=True)
class MedicationOrder:
    order_id: str
    medication: str
    dose: str
    route: str | None = None
    timings: tuple[DoseTiming, ...] = ()
    authored_at: datetime | None = None
    status: OrderStatus = "active"
    """``on_hold``: suspended, shown but never due."""
    status_reason: str | None = None
    medication_code: Code | None = None
    route_code: Code | None = None
    ordered_dose: OrderedDose | None = None
    """Machine-readable dose (None: only ``dose`` text, the nurse confirms against it)."""
    as_needed: bool = False
    """"If needed": shown with its reason, never scheduled."""
    as_needed_reason: str | None = None
    to_clarify: bool = False
    """An active order that cannot be scheduled: shown "to clarify with the prescriber"."""

    @property
    def shown_as(self) -> OrderShownAs:
        """How the nurse sees the order: on the schedule, or beside it (suspended, if
        needed, to clarify with the prescriber)."""
        if self.status == "on_hold":
            return "suspended"
        if self.to_clarify:
            return "to_clarify"
        if self.as_needed:
            return "if_needed"
        return "scheduled"


@dataclass(frozen=True, kw_only=True)
class VitalSign:
    kind: str
    """heart_rate, temperature, spo2, respiratory_rate, systolic, diastolic, or the code."""
    label: str
    value: float | None
    unit: str
    taken_at: datetime | None


@dataclass(frozen=True, kw_only=True)
class RecordedAdministration:
    order_id: str
    at: datetime
    given: bool
    due_at: datetime | None = None
    reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class BedsideRecord:
    visit_number: str
    patient: PatientBanner
    orders: tuple[MedicationOrder, ...]
    vitals: tuple[VitalSign, ...]
    administrations: tuple[RecordedAdministration, ...]
    fetched_at: datetime
    stale: bool = False
    age_seconds: float = 0.0


@dataclass(frozen=True, kw_only=True)
class ScheduledDose:
    order_id: str
    medication: str
    dose: str
    due_at: datetime
    window_start: datetime
    window_end: datetime
    state: DoseState
    recorded_at: datetime | None = None
    reason: str | None = None
    ordered_dose: OrderedDose | None = None
    route: str | None = None


@dataclass(frozen=True, kw_only=True)
class IdentityAlert:
    """A stay whose EHR record could not be matched for certain: nothing clinical is shown
    or written until the identity is checked. ``reason`` is a stable id
    (``patient.several``, ``patient.birth_date``, ``patient.ins``, ``encounter.subject``)."""

    visit_number: str
    bed: str | None
    reason: str
    since: datetime


NotGivenReason = Literal["refused", "absent", "held", "vomited", "other"]
NOT_GIVEN_REASONS: tuple[NotGivenReason, ...] = ("refused", "absent", "held", "vomited", "other")


@dataclass(frozen=True, kw_only=True)
class GivenDose:
    """The quantity the nurse gave: a value and its UCUM unit code (``mg``, ``mL``...)."""

    value: Decimal
    unit: str


@dataclass(frozen=True, kw_only=True)
class AdministrationInput:
    """What the nurse records at the bed: a dose given (whole or partial), or not given
    with its reason. ``(order_id, due_at)`` names the dose: one record per dose."""

    order_id: str
    due_at: datetime | None
    given: bool
    at: datetime
    reason: NotGivenReason | None = None
    """Why not given, or why only part of the dose was given."""
    reason_text: str | None = None
    """The nurse's words: required for ``other``, kept with any reason."""
    dose: GivenDose | None = None
    partial: bool = False
    """Only part of the ordered dose was given (``dose`` says how much, ``reason`` why)."""
    dose_confirmed_text: str | None = None
    """The order's dose text the nurse checked a typed dose against, when the order has no
    machine-readable dose."""
    late_reason: str | None = None
    """Why the dose is given outside its window."""
    scanned_patient_id: str | None = None
    scanned_medication: str | None = None


@dataclass(frozen=True, kw_only=True)
class VitalsInput:
    at: datetime
    values: dict[str, float] = field(default_factory=dict)
    """By kind: heart_rate (/min), temperature (°C), spo2 (%), respiratory_rate (/min),
    systolic and diastolic (mm[Hg])."""


@dataclass(frozen=True, kw_only=True)
class WriteReceipt:
    business_ids: tuple[str, ...]
    state: WriteState = "pending"


@dataclass(frozen=True, kw_only=True)
class OutboxItem:
    business_id: str
    kind: str
    """administration or vitals"""
    visit_number: str
    state: WriteState
    attempts: int
    created_at: datetime
    last_error: str | None
    next_attempt_at: datetime | None


class ClinicalRecordPort(Protocol):
    async def record_for_stay(self, stay: StayView) -> BedsideRecord:
        """The banner, orders and recent vitals; from cache (marked stale) when the EHR
        is unreachable. Raises an EHR error when it is unreachable and nothing is cached."""
        ...

    async def medication_schedule(
        self, stay: StayView, day: date | None = None
    ) -> list[ScheduledDose]:
        """The doses due on ``day`` (today by default) with their state."""
        ...

    async def recorded_administrations(self, stay: StayView) -> list[RecordedAdministration]:
        """The recent administrations: recorded at the bed (delivered or not) and the EHR's."""
        ...

    async def record_administration(
        self, stay: StayView, entry: AdministrationInput, actor: Actor
    ) -> WriteReceipt:
        """Validated, then written to the outbox with its audit row (one transaction)."""
        ...

    async def record_vitals(
        self, stay: StayView, entry: VitalsInput, actor: Actor
    ) -> WriteReceipt: ...

    async def outbox_state(self, visit_number: str | None = None) -> list[OutboxItem]:
        """Bedside writes not yet delivered, or refused (with the server's reason)."""
        ...

    async def send_write_again(self, business_id: str, actor: Actor) -> OutboxItem:
        """A write the EHR refused, queued again once the cause is mended (audited)."""
        ...

    async def close_write(self, business_id: str, actor: Actor, note: str) -> OutboxItem:
        """A write the EHR refused, closed by hand with the reason in words (audited)."""
        ...

    def identity_alerts(self) -> list[IdentityAlert]:
        """Stays whose identity is to be checked (for the admin pages)."""
        ...
