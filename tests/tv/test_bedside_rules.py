"""The pure rules of the bedside pages: five rights, vital-sign ranges, diet of the meals."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from kiosk_ui.meals import Restrictions, offered, order_day, ordering_open
from kiosk_ui.nurse_checks import (
    AdministrationIn,
    RightsRefused,
    VitalsIn,
    check_rights,
    check_vitals,
)
from kiosk_ui.tv_options import DEFAULT_MENU, TvOptions
from wardline.domain.clinical_record_port import (
    Allergy,
    BedsideRecord,
    MedicationOrder,
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
        "dose": "1 comprimé",
        "route": "oral",
    }
    return AdministrationIn.model_validate(base | changes)


def test_the_right_dose_in_its_window_passes() -> None:
    check_rights(entry(), RECORD, SCHEDULE, DUE + timedelta(minutes=20))


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"medication_code": "Paracétamol 1 g"}, "bedside.wrong_medication"),
        ({"dose": "2 comprimés"}, "bedside.wrong_dose"),
        ({"route": "IV"}, "bedside.wrong_route"),
        ({"order_id": "mr-9"}, "bedside.unknown_order"),
        ({"given": False}, "bedside.reason_needed"),
    ],
)
def test_each_wrong_right_is_refused(changes: dict[str, object], error: str) -> None:
    with pytest.raises(RightsRefused) as refused:
        check_rights(entry(**changes), RECORD, SCHEDULE, DUE)
    assert refused.value.error_id == error


def test_outside_the_window_needs_a_reason() -> None:
    late = DUE + timedelta(hours=2)
    with pytest.raises(RightsRefused, match="time window"):
        check_rights(entry(), RECORD, SCHEDULE, late)
    check_rights(entry(reason="patient was in radiology"), RECORD, SCHEDULE, late)


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
