"""Orders as prescribed, read from the real FHIR engine (Medplum) holding the corpus, and the
day's schedule computed from them in the ward's zone (the day is a DST change in Paris)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from ehr_bridge.fhir_client import SharedSessionClient
from ehr_bridge.med_schedule import Ward, schedule_for_day
from tests.ehr_bridge.fhir_fixtures import corpus_stay
from tests.ehr_bridge.medplum_fixtures import corpus_records, fhir, medplum
from wardline.domain.clinical_record_port import DoseQuantity, MedicationOrder, OrderedDose

__all__ = ["fhir", "medplum"]
PARIS = ZoneInfo("Europe/Paris")
DST_DAY = date(2026, 3, 29)  # 02:00 CET -> 03:00 CEST
WARD = Ward(timezone=PARIS, tolerance=timedelta(minutes=60))


@pytest.fixture
async def orders(fhir: SharedSessionClient) -> dict[str, MedicationOrder]:
    record = await corpus_records(fhir).get(corpus_stay("helene"))
    return {o.order_id.removeprefix("corpus-mr-"): o for o in record.orders}


async def test_only_orders_active_or_on_hold_are_shown(orders: dict[str, MedicationOrder]) -> None:
    assert set(orders) == {
        "paracetamol",
        "enoxaparine",
        "insuline",
        "furosemide",
        "vancomycine",
        "gentamicine",
        "morphine",
        "oxazepam",
        "bisoprolol",
        "fluindione-nodosage",
        "macrogol-textonly",
    }  # stopped, cancelled, completed, entered-in-error and the proposal are not
    bisoprolol = orders["bisoprolol"]
    assert bisoprolol.status == "on_hold"
    assert bisoprolol.status_reason == "Bradycardie à 48/min, avis cardiologue"


async def test_medications_coded_contained_and_on_the_server(
    orders: dict[str, MedicationOrder],
) -> None:
    assert orders["paracetamol"].medication == "Paracétamol 1 g comprimé"
    code = orders["paracetamol"].medication_code
    assert code is not None and (code.system, code.code) == ("http://www.whocc.no/atc", "N02BE01")
    assert orders["vancomycine"].medication == "vancomycine"  # coding display, no text
    assert orders["enoxaparine"].medication == "Énoxaparine 4 000 UI anti-Xa/0,4 mL"  # #m1
    # Medplum does not honour _include: the server Medication is read by its reference
    assert orders["furosemide"].medication == "Furosémide 20 mg/2 mL solution injectable"
    assert orders["insuline"].medication == "Insuline asparte 100 U/mL"


async def test_structured_doses_and_routes(orders: dict[str, MedicationOrder]) -> None:
    assert orders["paracetamol"].ordered_dose == OrderedDose(
        quantity=DoseQuantity(value=Decimal("1"), unit="g", unit_text="g")
    )
    enox = orders["enoxaparine"].ordered_dose
    assert enox is not None and enox.quantity is not None
    assert (enox.quantity.value, enox.quantity.unit, enox.quantity.unit_text) == (
        Decimal("4000"),
        "[iU]",
        "UI",
    )
    insulin = orders["insuline"].ordered_dose
    assert insulin is not None and insulin.is_range
    assert insulin.low is not None and insulin.high is not None
    assert (insulin.low.value, insulin.high.value, insulin.high.unit) == (4, 8, "[iU]")
    assert orders["enoxaparine"].route == "Voie sous-cutanée"
    route = orders["enoxaparine"].route_code
    assert route is not None and route.code == "20066000"
    assert orders["macrogol-textonly"].dose == "1 sachet selon transit"
    assert orders["macrogol-textonly"].ordered_dose is None


async def test_as_needed_orders_show_their_reason_and_are_never_scheduled(
    orders: dict[str, MedicationOrder],
) -> None:
    morphine, oxazepam = orders["morphine"], orders["oxazepam"]
    assert (morphine.as_needed, morphine.as_needed_reason) == (True, "Douleur (EVA > 4)")
    assert (oxazepam.as_needed, oxazepam.as_needed_reason) == (True, None)
    assert not morphine.to_clarify and not oxazepam.to_clarify
    now = datetime(2026, 3, 29, 10, tzinfo=UTC)
    doses = schedule_for_day(orders.values(), DST_DAY, WARD, [], now)
    assert not {"corpus-mr-morphine", "corpus-mr-oxazepam"} & {d.order_id for d in doses}


async def test_orders_that_cannot_be_scheduled_are_kept_to_clarify(
    orders: dict[str, MedicationOrder],
) -> None:
    assert orders["fluindione-nodosage"].to_clarify
    assert orders["macrogol-textonly"].to_clarify
    assert not orders["paracetamol"].to_clarify and not orders["bisoprolol"].to_clarify


def _local_times(doses: list, order: str) -> list[str]:  # type: ignore[type-arg]
    return [
        d.due_at.astimezone(PARIS).strftime("%H:%M")
        for d in doses
        if d.order_id == f"corpus-mr-{order}"
    ]


async def test_the_schedule_of_a_dst_day_in_the_wards_zone(
    orders: dict[str, MedicationOrder],
) -> None:
    now = datetime(2026, 3, 29, 9, 30, tzinfo=UTC)  # 11:30 in Paris
    doses = schedule_for_day(orders.values(), DST_DAY, WARD, [], now)
    assert _local_times(doses, "paracetamol") == ["00:00", "06:00", "12:00", "18:00"]
    assert _local_times(doses, "enoxaparine") == ["19:00"]
    assert _local_times(doses, "insuline") == ["07:15", "11:45", "18:15"]  # 15 min before meals
    assert _local_times(doses, "furosemide") == ["08:00", "20:00"]
    # every 12 real hours from 08:00 CET on the 27th: 09:00 and 21:00 CEST after the change
    assert _local_times(doses, "vancomycine") == ["09:00", "21:00"]
    assert _local_times(doses, "gentamicine") == ["10:00"]  # third and last dose
    assert not _local_times(doses, "bisoprolol")  # on hold
    midnight = next(d for d in doses if d.order_id == "corpus-mr-paracetamol")
    assert midnight.due_at == datetime(2026, 3, 28, 23, tzinfo=UTC)  # +01:00 before the change
    assert midnight.state == "overdue"
    noon = [d for d in doses if d.order_id == "corpus-mr-paracetamol"][2]
    assert noon.due_at == datetime(2026, 3, 29, 10, tzinfo=UTC) and noon.state == "due"
    assert noon.ordered_dose == orders["paracetamol"].ordered_dose
    assert noon.route == "Voie orale"


async def test_count_and_bounds_end_the_orders(orders: dict[str, MedicationOrder]) -> None:
    now = datetime(2026, 4, 2, 9, tzinfo=UTC)
    after = schedule_for_day(orders.values(), date(2026, 3, 30), WARD, [], now)
    assert not _local_times(after, "gentamicine")  # three doses given on the 27th-29th
    before = schedule_for_day(orders.values(), date(2026, 3, 26), WARD, [], now)
    assert not _local_times(before, "furosemide")  # bounds start on the 27th
    assert (
        _local_times(
            schedule_for_day(orders.values(), date(2026, 4, 2), WARD, [], now), "furosemide"
        )
        == []
    )  # bounds end on the 1st


def test_a_wall_clock_time_skipped_by_dst_moves_past_the_gap() -> None:
    from ehr_bridge.med_schedule import due_times
    from wardline.domain.clinical_record_port import DoseTiming

    skipped = due_times(DoseTiming(times_of_day=(time(2, 30),)), DST_DAY, PARIS, None)
    assert [t.astimezone(UTC) for t in skipped] == [datetime(2026, 3, 29, 1, 30, tzinfo=UTC)]
