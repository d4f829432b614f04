"""The pure rules of the bedside pages: five rights, vital-sign ranges, diet of the meals."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from pydantic import ValidationError

from kiosk_ui.dose_check import DoseMismatch, check_dose
from kiosk_ui.meals import Restrictions, offered, order_day, ordering_open
from kiosk_ui.nurse_checks import (
    AdministrationIn,
    DoseAlreadyRecorded,
    RightsRefused,
    VitalsIn,
    check_rights,
    check_vitals,
)
from kiosk_ui.tv_options import DEFAULT_MENU, TvOptions
from wardline.domain.clinical_record_port import (
    Allergy,
    BedsideRecord,
    DoseQuantity,
    GivenDose,
    MedicationOrder,
    OrderedDose,
    PatientBanner,
    ScheduledDose,
)
from wardline.domain.errors import InvalidInput

DUE = datetime(2026, 11, 22, 7, 0, tzinfo=UTC)
ORDER = MedicationOrder(
    order_id="mr-1", medication="Bisoprolol 5 mg", dose="1 comprimé", route="oral"
)


def banner(*allergies: str, diets: tuple[str, ...] = ()) -> PatientBanner:
    return PatientBanner(
        family_name="MARTIN",
        given_name="JEANNE",
        birth_date=date(1952, 3, 14),
        sex="F",
        identifiers=(("IPP", "100001"),),
        allergies=tuple(Allergy(substance=a) for a in allergies),
        diets=diets,
    )


RECORD = BedsideRecord(
    visit_number="V1",
    patient=banner(),
    orders=(ORDER,),
    vitals=(),
    administrations=(),
    fetched_at=DUE,
)
SCHEDULE = [
    ScheduledDose(
        order_id="mr-1",
        medication=ORDER.medication,
        dose=ORDER.dose,
        due_at=DUE,
        window_start=DUE - timedelta(hours=1),
        window_end=DUE + timedelta(hours=1),
        state="due",
    )
]


def entry(**changes: object) -> AdministrationIn:
    base: dict[str, object] = {
        "order_id": "mr-1",
        "due_at": DUE,
        "wristband": "100001",
        "medication_code": "bisoprolol 5 MG",
        "dose_value": "1",
        "dose_unit": "{tbl}",
        "dose_confirmed": True,
        "route": "oral",
    }
    return AdministrationIn.model_validate(base | changes)


def test_the_right_dose_in_its_window_passes_with_the_confirmed_text() -> None:
    checked = check_rights(entry(), RECORD, SCHEDULE, DUE + timedelta(minutes=20))
    assert checked.dose == GivenDose(value=Decimal(1), unit="{tbl}")
    assert checked.dose_confirmed_text == "1 comprimé"  # what the nurse checked it against


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"medication_code": "Paracétamol 1 g"}, "bedside.wrong_medication"),
        ({"dose_confirmed": False}, "bedside.confirm_dose"),
        ({"dose_value": None}, "bedside.dose_needed"),
        ({"dose_unit": " "}, "bedside.dose_needed"),
        ({"route": "IV"}, "bedside.wrong_route"),
        ({"order_id": "mr-9"}, "bedside.unknown_order"),
        ({"due_at": DUE + timedelta(minutes=1)}, "bedside.unknown_dose"),
        ({"given": False}, "bedside.reason_needed"),
        ({"given": False, "reason": "other"}, "bedside.reason_text_needed"),
        ({"partial": True}, "bedside.partial_reason_needed"),
    ],
)
def test_each_wrong_right_is_refused(changes: dict[str, object], error: str) -> None:
    with pytest.raises(RightsRefused) as refused:
        check_rights(entry(**changes), RECORD, SCHEDULE, DUE)
    assert refused.value.error_id == error


def test_a_dose_not_given_needs_a_known_reason_and_nothing_else() -> None:
    checked = check_rights(
        entry(given=False, reason="vomited", dose_value=None, medication_code=""),
        RECORD,
        SCHEDULE,
        DUE + timedelta(hours=3),  # late does not matter for a dose not given
    )
    assert checked.reason == "vomited" and checked.dose is None
    with pytest.raises(ValidationError):
        entry(given=False, reason="bored")


def test_an_order_without_any_dose_is_to_clarify_with_the_prescriber() -> None:
    unclear = replace(ORDER, dose="")
    record = replace(RECORD, orders=(unclear,))
    with pytest.raises(RightsRefused) as refused:
        check_rights(entry(), record, SCHEDULE, DUE)
    assert refused.value.error_id == "bedside.order_unclear"


def test_a_dose_shown_as_recorded_is_refused_again() -> None:
    for state in ("given", "not_given"):
        recorded = [replace(SCHEDULE[0], state=state)]
        with pytest.raises(DoseAlreadyRecorded) as twice:
            check_rights(entry(), RECORD, recorded, DUE)
        assert twice.value.error_id == "bedside.dose_already_recorded"


def test_outside_the_window_needs_a_reason() -> None:
    late = DUE + timedelta(hours=2)
    with pytest.raises(RightsRefused, match="time window"):
        check_rights(entry(), RECORD, SCHEDULE, late)
    check_rights(entry(late_reason="patient was in radiology"), RECORD, SCHEDULE, late)


MG_500 = OrderedDose(quantity=DoseQuantity(value=Decimal(500), unit="mg"))
U_4_8 = OrderedDose(
    low=DoseQuantity(value=Decimal(4), unit="[iU]", unit_text="UI"),
    high=DoseQuantity(value=Decimal(8), unit="[iU]", unit_text="UI"),
)
UP_TO_2 = OrderedDose(high=DoseQuantity(value=Decimal(2), unit="{tbl}", unit_text="comprimés"))


@pytest.mark.parametrize(
    ("value", "unit", "ordered"),
    [
        ("500", "mg", MG_500),
        ("0.5", "g", MG_500),
        ("500000", "ug", MG_500),
        ("4", "[iU]", U_4_8),
        ("8", "[iU]", U_4_8),
        ("6.5", "[iU]", U_4_8),
    ],
)
def test_a_dose_within_the_ordered_quantity_or_range_passes(
    value: str, unit: str, ordered: OrderedDose
) -> None:
    check_dose(GivenDose(value=Decimal(value), unit=unit), ordered, partial=False)


@pytest.mark.parametrize(
    ("value", "unit", "ordered", "error"),
    [
        ("5", "mg", MG_500, "bedside.wrong_dose"),
        ("1", "g", MG_500, "bedside.wrong_dose"),
        ("500", "mL", MG_500, "bedside.wrong_unit"),
        ("500", "MG", MG_500, "bedside.wrong_unit"),  # UCUM codes are case-sensitive
        ("0", "mg", MG_500, "bedside.wrong_dose"),
        ("9", "[iU]", U_4_8, "bedside.wrong_dose"),
        ("3.9", "[iU]", U_4_8, "bedside.wrong_dose"),
        ("6", "mg", U_4_8, "bedside.wrong_unit"),
        ("3", "{tbl}", UP_TO_2, "bedside.wrong_dose"),
    ],
)
def test_a_dose_outside_the_order_or_in_another_unit_is_refused(
    value: str, unit: str, ordered: OrderedDose, error: str
) -> None:
    with pytest.raises(DoseMismatch) as refused:
        check_dose(GivenDose(value=Decimal(value), unit=unit), ordered, partial=False)
    assert refused.value.error_id == error


def test_the_nurse_reads_the_ordered_dose_and_the_refusal_says_it() -> None:
    with pytest.raises(DoseMismatch) as refused:
        check_dose(GivenDose(value=Decimal(9), unit="[iU]"), U_4_8, partial=False)
    assert refused.value.details == {"ordered": "4-8 UI", "given": "9 [iU]"}


def test_a_structured_order_is_checked_on_quantities_without_a_confirmation() -> None:
    order = replace(ORDER, ordered_dose=MG_500, dose="500 mg")
    record = replace(RECORD, orders=(order,))
    ok = entry(dose_value="0.5", dose_unit="g", dose_confirmed=False)
    checked = check_rights(ok, record, SCHEDULE, DUE)
    assert checked.dose_confirmed_text is None  # nothing typed against a text
    with pytest.raises(RightsRefused) as refused:
        check_rights(entry(dose_value="5", dose_unit="mg"), record, SCHEDULE, DUE)
    assert refused.value.error_id == "bedside.wrong_dose"
    assert refused.value.details == {"ordered": "500 mg", "given": "5 mg"}


def test_suspended_and_unclear_orders_and_doses_without_a_time_are_refused() -> None:
    for order, error in (
        (replace(ORDER, status="on_hold"), "bedside.order_suspended"),
        (replace(ORDER, to_clarify=True), "bedside.order_unclear"),
    ):
        with pytest.raises(RightsRefused) as refused:
            check_rights(entry(), replace(RECORD, orders=(order,)), SCHEDULE, DUE)
        assert refused.value.error_id == error
    with pytest.raises(RightsRefused) as untimed:
        check_rights(entry(due_at=None), RECORD, SCHEDULE, DUE)
    assert untimed.value.error_id == "bedside.unknown_dose"
    as_needed = replace(ORDER, as_needed=True)
    check_rights(entry(due_at=None), replace(RECORD, orders=(as_needed,)), [], DUE)


def test_a_partial_dose_is_less_than_ordered_and_more_than_nothing() -> None:
    check_dose(GivenDose(value=Decimal(250), unit="mg"), MG_500, partial=True)
    for value in ("500", "0"):
        with pytest.raises(DoseMismatch):
            check_dose(GivenDose(value=Decimal(value), unit="mg"), MG_500, partial=True)


def test_vitals_in_range_pass_and_implausible_ones_are_refused() -> None:
    assert check_vitals(VitalsIn(values={"heart_rate": 72, "spo2": 97})) == {
        "heart_rate": 72,
        "spo2": 97,
    }
    for values in ({"spo2": 120}, {"temperature": 25}, {"glucose": 5}, {}):
        with pytest.raises(InvalidInput):
            check_vitals(VitalsIn(values=values))


def test_a_gluten_free_patient_is_never_offered_gluten() -> None:
    for patient in (banner("Gluten"), banner(diets=("Régime sans gluten",))):
        dishes = offered(DEFAULT_MENU, Restrictions.of(patient), "lunch")
        dinner = offered(DEFAULT_MENU, Restrictions.of(patient), "dinner")
        assert all("gluten" not in d.contains for d in dishes + dinner)
    egg = offered(DEFAULT_MENU, Restrictions.of(banner("Egg")), "dinner")
    assert [d.code for d in egg] == ["D1", "D2"]
    unknown = offered(DEFAULT_MENU, Restrictions.of(None), "dinner")
    assert [d.code for d in unknown] == ["D2"]  # record unreadable: nothing with any allergen


def test_orders_are_for_tomorrow_until_the_cutoff_in_the_ward_time_zone() -> None:
    options = TvOptions(meal_cutoff_hour=14, timezone="Europe/Paris")
    before = datetime(2026, 11, 22, 12, 59, tzinfo=UTC)  # 13:59 in Paris
    assert ordering_open(before, options) and order_day(before, options) == date(2026, 11, 23)
    assert not ordering_open(before + timedelta(minutes=1), options)
    late = datetime(2026, 11, 22, 23, 30, tzinfo=UTC)  # already the 23rd in Paris
    assert order_day(late, options) == date(2026, 11, 24)
