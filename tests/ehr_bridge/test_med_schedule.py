"""The medication schedule: table-driven timing rules over a day and across midnight."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from ehr_bridge.med_schedule import Ward, due_times, schedule_for_day
from wardline.domain.clinical_record_port import (
    DoseTiming,
    MedicationOrder,
    RecordedAdministration,
)

PARIS = ZoneInfo("Europe/Paris")
DAY = date(2026, 3, 10)
WARD = Ward(timezone=PARIS)


def at(hour: int, minute: int = 0, day: date = DAY) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=PARIS)


def hours(values: list[datetime]) -> list[str]:
    return [v.astimezone(PARIS).strftime("%d %H:%M") for v in values]


@pytest.mark.parametrize(
    ("timing", "anchor", "expected"),
    [
        (DoseTiming(times_of_day=(time(8), time(20))), None, ["10 08:00", "10 20:00"]),
        (DoseTiming(frequency=1, period=1, period_unit="d"), None, ["10 08:00"]),
        (
            DoseTiming(frequency=3, period=1, period_unit="d"),
            None,
            ["10 08:00", "10 14:00", "10 20:00"],
        ),
        (
            DoseTiming(frequency=4, period=1, period_unit="d"),
            None,
            ["10 00:00", "10 06:00", "10 12:00", "10 18:00"],
        ),
        (DoseTiming(when=("ACM", "ACD", "ACV")), None, ["10 07:30", "10 12:00", "10 18:30"]),
        (DoseTiming(when=("HS",), offset_minutes=30), None, ["10 22:00"]),
        # every 8 hours from an order written at 22:00 the day before: crosses midnight
        (
            DoseTiming(frequency=1, period=8, period_unit="h"),
            at(22, 0, DAY - timedelta(days=1)),
            ["10 06:00", "10 14:00", "10 22:00"],
        ),
        # every 6 hours from 03:00: the doses of the day, none outside it
        (
            DoseTiming(frequency=1, period=6, period_unit="h"),
            at(3),
            ["10 03:00", "10 09:00", "10 15:00", "10 21:00"],
        ),
        # every other day from the 9th: nothing on the 10th
        (DoseTiming(frequency=1, period=2, period_unit="d"), at(8, 0, DAY - timedelta(days=1)), []),
        (
            DoseTiming(frequency=1, period=2, period_unit="d"),
            at(8, 0, DAY - timedelta(days=2)),
            ["10 08:00"],
        ),
        # every other day at 09:00 (timeOfDay with a period of 2 days)
        (
            DoseTiming(times_of_day=(time(9),), period=2, period_unit="d"),
            at(8, 0, DAY - timedelta(days=1)),
            [],
        ),
        (
            DoseTiming(times_of_day=(time(9),), period=2, period_unit="d"),
            at(8, 0, DAY - timedelta(days=4)),
            ["10 09:00"],
        ),
        # once a week, from an order written a week ago
        (
            DoseTiming(frequency=1, period=1, period_unit="wk"),
            at(8, 0, DAY - timedelta(days=7)),
            ["10 08:00"],
        ),
        (
            DoseTiming(frequency=1, period=1, period_unit="wk"),
            at(8, 0, DAY - timedelta(days=3)),
            [],
        ),
        # bounds: starts at noon, ends at 19:00
        (
            DoseTiming(
                frequency=4, period=1, period_unit="d", bounds_start=at(11), bounds_end=at(19)
            ),
            None,
            ["10 12:00", "10 18:00"],
        ),
        # bounds ended yesterday
        (DoseTiming(times_of_day=(time(8),), bounds_end=at(0)), None, []),
        (DoseTiming(as_needed=True, times_of_day=(time(8),)), None, []),
        (DoseTiming(), None, []),
    ],
)
def test_due_times(timing: DoseTiming, anchor: datetime | None, expected: list[str]) -> None:
    assert hours(due_times(timing, DAY, PARIS, anchor)) == expected


def test_daylight_saving_day_keeps_wall_clock_times() -> None:
    spring = date(2026, 3, 29)
    times = due_times(DoseTiming(times_of_day=(time(1), time(8))), spring, PARIS, None)
    assert [t.utcoffset() for t in times] == [timedelta(hours=1), timedelta(hours=2)]


ORDER = MedicationOrder(
    order_id="mr-1",
    medication="Paracétamol 1 g",
    dose="1 comprimé",
    timings=(DoseTiming(times_of_day=(time(8), time(14), time(20))),),
)
LATE = MedicationOrder(
    order_id="mr-2",
    medication="Enoxaparine",
    dose="1 injection",
    timings=(DoseTiming(times_of_day=(time(23, 30),)),),
)


@pytest.mark.parametrize(
    ("now", "recorded", "states"),
    [
        (at(7), [], ["due", "due", "due"]),
        (at(9, 30), [], ["overdue", "due", "due"]),
        (
            at(9, 30),
            [RecordedAdministration(order_id="mr-1", at=at(8, 20), given=True)],
            ["given", "due", "due"],
        ),
        (
            at(15, 30),
            [RecordedAdministration(order_id="mr-1", at=at(14, 5), given=False, reason="refused")],
            ["overdue", "not_given", "due"],
        ),
        # an administration far from any due time is matched to none
        (
            at(10),
            [RecordedAdministration(order_id="mr-1", at=at(11), given=True)],
            ["overdue", "due", "due"],
        ),
        # explicit due time wins over closeness
        (
            at(21, 30),
            [RecordedAdministration(order_id="mr-1", at=at(21), given=True, due_at=at(20))],
            ["overdue", "overdue", "given"],
        ),
        # another order's administration does not count
        (
            at(9, 30),
            [RecordedAdministration(order_id="mr-9", at=at(8), given=True)],
            ["overdue", "due", "due"],
        ),
    ],
)
def test_states_across_the_day(
    now: datetime, recorded: list[RecordedAdministration], states: list[str]
) -> None:
    doses = schedule_for_day([ORDER], DAY, WARD, recorded, now)
    assert [d.state for d in doses] == states
    assert [d.window_end - d.window_start for d in doses] == [timedelta(hours=2)] * 3


def test_across_midnight_window_and_recording() -> None:
    """The 23:30 dose stays due until 00:30 the next day; given at 00:10 it counts."""
    after_midnight = at(0, 15, DAY + timedelta(days=1))
    [dose] = schedule_for_day([LATE], DAY, WARD, [], after_midnight)
    assert dose.state == "due" and dose.window_end == at(0, 30, DAY + timedelta(days=1))
    [dose] = schedule_for_day([LATE], DAY, WARD, [], at(0, 45, DAY + timedelta(days=1)))
    assert dose.state == "overdue"
    given = RecordedAdministration(
        order_id="mr-2", at=at(0, 10, DAY + timedelta(days=1)), given=True
    )
    [dose] = schedule_for_day([LATE], DAY, WARD, [given], at(1, 0, DAY + timedelta(days=1)))
    assert dose.state == "given"
    # and the next day does not reuse that administration for its own 23:30 dose
    [tomorrow] = schedule_for_day(
        [LATE], DAY + timedelta(days=1), WARD, [given], at(12, 0, DAY + timedelta(days=1))
    )
    assert tomorrow.state == "due"


def test_schedule_is_sorted_by_time_over_orders() -> None:
    doses = schedule_for_day([LATE, ORDER], DAY, WARD, [], datetime(2026, 3, 10, 5, tzinfo=UTC))
    assert [d.due_at for d in doses] == sorted(d.due_at for d in doses)
    assert doses[-1].order_id == "mr-2"
    assert len(doses) == 4
