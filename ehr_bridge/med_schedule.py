"""Today's medication schedule from dosage timings: pure functions, no I/O.

Each order's timings give due times on the ward's local day, in the ward's zone (clock
times are wall-clock times of that day, DST included; "every n hours" is counted in real
hours); each due time gets a window (``tolerance`` either side) and a state: ``given`` /
``not_given`` when an administration was recorded for it, else ``overdue`` once the window
has closed, else ``due``. Orders on hold, as needed, or to clarify with the prescriber are
never scheduled. ``count`` limits the doses counted from the start of the bounds (else from
the order's date).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from wardline.domain.clinical_record_port import (
    DoseState,
    DoseTiming,
    MedicationOrder,
    RecordedAdministration,
    ScheduledDose,
)

# Clock times of the ward for FHIR event timing codes (EventTiming).
WHEN_TIMES: dict[str, tuple[time, ...]] = {
    "WAKE": (time(7, 0),),
    "MORN": (time(8, 0),),
    "NOON": (time(12, 0),),
    "AFT": (time(15, 0),),
    "EVE": (time(19, 0),),
    "NIGHT": (time(22, 0),),
    "HS": (time(21, 30),),
    "C": (time(8, 0), time(12, 30), time(19, 0)),
    "CM": (time(8, 0),),
    "CD": (time(12, 30),),
    "CV": (time(19, 0),),
    "AC": (time(7, 30), time(12, 0), time(18, 30)),
    "ACM": (time(7, 30),),
    "ACD": (time(12, 0),),
    "ACV": (time(18, 30),),
    "PC": (time(8, 30), time(13, 0), time(19, 30)),
    "PCM": (time(8, 30),),
    "PCD": (time(13, 0),),
    "PCV": (time(19, 30),),
}
# Usual administration hours for "n times a day" without explicit times.
DAILY_HOURS: dict[int, tuple[int, ...]] = {
    1: (8,),
    2: (8, 20),
    3: (8, 14, 20),
    4: (6, 12, 18, 0),
}
UNIT_SECONDS = {"s": 1, "min": 60, "h": 3600, "d": 86400, "wk": 604800}


@dataclass(frozen=True)
class Ward:
    timezone: ZoneInfo
    tolerance: timedelta = timedelta(minutes=60)


COUNT_HORIZON_DAYS = 366
"""How far back doses are counted for ``count`` (an order older than that is to clarify)."""


def _local(day: date, at: time, tz: ZoneInfo) -> datetime:
    """A wall-clock time of the ward's day (a time skipped by DST moves past the gap)."""
    return datetime.combine(day, at, tzinfo=tz).astimezone(UTC).astimezone(tz)


def _day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    return _local(day, time(0), tz), _local(day + timedelta(days=1), time(0), tz)


def _daily_times(frequency: int) -> list[time]:
    if frequency in DAILY_HOURS:
        return [time(h) for h in DAILY_HOURS[frequency]]
    step = 24 * 60 // max(1, frequency)
    return [
        time((6 * 60 + k * step) // 60 % 24, (6 * 60 + k * step) % 60) for k in range(frequency)
    ]


def _interval_times(
    timing: DoseTiming, start: datetime, end: datetime, anchor: datetime
) -> list[datetime]:
    """Doses every period/frequency (hours or minutes) from ``anchor``, inside [start, end)."""
    assert timing.period and timing.period_unit
    step = timedelta(
        seconds=timing.period * UNIT_SECONDS[timing.period_unit] / (timing.frequency or 1)
    )
    if step <= timedelta(0):
        return []
    tz = anchor.tzinfo
    origin = anchor.astimezone(UTC)  # real hours: a DST change does not move the interval
    k = max(0, int((start - origin) / step))
    out, moment = [], origin + k * step
    while moment < end:
        if moment >= start:
            out.append(moment.astimezone(tz))
        moment += step
    return out


def due_times(
    timing: DoseTiming, day: date, tz: ZoneInfo, anchor: datetime | None
) -> list[datetime]:
    """The due times of one timing on the local ``day`` (sorted, inside its bounds, within
    its ``count``)."""
    if timing.as_needed:
        return []
    today = _day_times(timing, day, tz, anchor)
    if timing.count is None or not today:
        return today
    origin = (timing.bounds_start or anchor or today[0]).astimezone(tz).date()
    if (day - origin).days > COUNT_HORIZON_DAYS:
        return []
    given_before = 0
    for n in range((day - origin).days):
        given_before += len(_day_times(timing, origin + timedelta(days=n), tz, anchor))
        if given_before >= timing.count:
            return []
    return today[: timing.count - given_before]


def _day_times(
    timing: DoseTiming, day: date, tz: ZoneInfo, anchor: datetime | None
) -> list[datetime]:
    start, end = _day_bounds(day, tz)
    unit = timing.period_unit
    period_days = (
        int((timing.period or 1) * (7 if unit == "wk" else 1)) if unit in {"d", "wk"} else 1
    )
    if period_days > 1:  # every n days (or weeks): only on the days of the cycle
        origin_day = (timing.bounds_start or anchor or start).astimezone(tz).date()
        if (day - origin_day).days % period_days:
            return []
    times: list[datetime]
    if timing.times_of_day:
        times = [_local(day, t, tz) for t in timing.times_of_day]
    elif timing.when:
        times = [
            _local(day, t, tz) + _offset(code, timing.offset_minutes)
            for code in timing.when
            for t in WHEN_TIMES.get(code, ())
        ]
    elif timing.frequency and timing.period and unit in {"s", "min", "h"}:
        origin = timing.bounds_start or anchor or start
        times = _interval_times(timing, start, end, origin.astimezone(tz))
    elif timing.frequency and unit in {"d", "wk"}:
        per_day = max(1, timing.frequency // period_days) if period_days > 1 else timing.frequency
        times = [_local(day, t, tz) for t in _daily_times(per_day)]
    else:
        return []
    lower = max(start, timing.bounds_start) if timing.bounds_start else start
    upper = min(end, timing.bounds_end) if timing.bounds_end else end
    return sorted({t for t in times if lower <= t < upper})


def _offset(code: str, minutes: int) -> timedelta:
    """FHIR ``offset``: minutes before the event for the "before" codes (AC, ACM, ACD,
    ACV), after it otherwise."""
    sign = -1 if code.startswith("AC") else 1
    return timedelta(minutes=sign * minutes)


def schedulable(order: MedicationOrder) -> bool:
    """Whether the order's doses are placed on the schedule at all."""
    return order.status == "active" and not order.as_needed and not order.to_clarify


def _match(
    order_id: str,
    due: datetime,
    ward: Ward,
    recorded: Sequence[RecordedAdministration],
    used: set[int],
) -> RecordedAdministration | None:
    best: tuple[timedelta, int] | None = None
    for index, entry in enumerate(recorded):
        if index in used or entry.order_id != order_id:
            continue
        if entry.due_at is not None:
            if entry.due_at == due:
                used.add(index)
                return entry
            continue
        distance = abs(entry.at - due)
        if distance <= ward.tolerance and (best is None or distance < best[0]):
            best = (distance, index)
    if best is None:
        return None
    used.add(best[1])
    return recorded[best[1]]


def schedule_for_day(
    orders: Iterable[MedicationOrder],
    day: date,
    ward: Ward,
    recorded: Sequence[RecordedAdministration],
    now: datetime,
) -> list[ScheduledDose]:
    """Every dose due on ``day``, sorted by time, with its window and state at ``now``."""
    doses: list[ScheduledDose] = []
    used: set[int] = set()
    for order in orders:
        if not schedulable(order):
            continue
        dues = sorted(
            {
                t
                for timing in order.timings
                for t in due_times(timing, day, ward.timezone, order.authored_at)
            }
        )
        for due in dues:
            match = _match(order.order_id, due, ward, recorded, used)
            window_end = due + ward.tolerance
            state: DoseState
            if match is not None:
                state = "given" if match.given else "not_given"
            else:
                state = "overdue" if now > window_end else "due"
            doses.append(
                ScheduledDose(
                    order_id=order.order_id,
                    medication=order.medication,
                    dose=order.dose,
                    due_at=due,
                    window_start=due - ward.tolerance,
                    window_end=window_end,
                    state=state,
                    recorded_at=match.at if match else None,
                    reason=match.reason if match else None,
                    ordered_dose=order.ordered_dose,
                    route=order.route,
                )
            )
    doses.sort(key=lambda d: (d.due_at, d.medication))
    return doses
