"""HL7 v2 timestamps (TS/DTM) to UTC instants.

A timestamp with an offset (``20261203094749+0100``) is taken as given. One without is the
sender's local time, read in the zone configured for its sending facility (MSH-4), by default
the hospital's (Europe/Paris). A local time that does not exist (the hour skipped when the
clocks go forward) is refused; one that happens twice (the hour repeated when they go back) is
returned with both instants, for the caller to choose by the order of the patient's movements.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ehr_bridge.errors import MalformedMessage
from wardline.errors import ConfigError

DEFAULT_ZONE = "Europe/Paris"

_TS = re.compile(
    r"(?P<year>\d{4})(?P<month>\d{2})(?P<day>\d{2})"
    r"(?:(?P<hour>\d{2})(?:(?P<minute>\d{2})(?:(?P<second>\d{2})(?:\.(?P<fraction>\d{1,4}))?)?)?)?"
    r"(?P<offset>[+-]\d{4})?"
)


@dataclass(frozen=True, kw_only=True)
class Hl7Time:
    """An HL7 timestamp as UTC instants: ``at``, and ``later`` when the local time happened
    twice (autumn), ``at`` being then its first occurrence."""

    at: datetime
    later: datetime | None = None
    text: str = ""

    @property
    def ambiguous(self) -> bool:
        return self.later is not None


@dataclass(frozen=True)
class LocalZones:
    """The zone of timestamps sent without an offset: the sending facility's (MSH-4) when
    configured, else the zone of the site of the ward the message names (PV1-3.1), else the
    default one."""

    default: ZoneInfo = field(default_factory=lambda: ZoneInfo(DEFAULT_ZONE))
    by_facility: dict[str, ZoneInfo] = field(default_factory=dict)
    by_ward: dict[str, ZoneInfo] = field(default_factory=dict)

    @classmethod
    def named(cls, default: str, by_facility: dict[str, str] | None = None) -> LocalZones:
        """From zone names (IANA); an unknown name is a :class:`ConfigError`."""
        return cls(
            default=_zone(default),
            by_facility={facility: _zone(name) for facility, name in (by_facility or {}).items()},
        )

    def of(self, facility: str, ward: str = "") -> ZoneInfo:
        found = self.by_facility.get(facility) or self.by_ward.get(ward)
        return found or self.default


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError("config.unknown_zone", f"unknown time zone {name!r}") from exc


def _bad(value: str, why: str = "") -> MalformedMessage:
    text = f"invalid HL7 timestamp {value!r}" + (f": {why}" if why else "")
    return MalformedMessage("hl7.bad_datetime", text)


def parse_hl7_time(value: str, zone: ZoneInfo) -> Hl7Time | None:
    """``YYYYMMDD[HH[MM[SS[.S[S[S[S]]]]]]][+/-ZZZZ]`` to UTC; None for an empty value.

    :class:`MalformedMessage` ``hl7.bad_datetime`` for a malformed value, and
    ``hl7.nonexistent_local_time`` for a local time skipped by a change to summer time."""
    if not value:
        return None
    match = _TS.fullmatch(value)
    if match is None:
        raise _bad(value)
    parts = match.groupdict()
    fraction = parts["fraction"] or ""
    try:
        naive = datetime(
            int(parts["year"]),
            int(parts["month"]),
            int(parts["day"]),
            int(parts["hour"] or 0),
            int(parts["minute"] or 0),
            int(parts["second"] or 0),
            int(fraction.ljust(6, "0")) if fraction else 0,
        )
    except ValueError as exc:
        raise _bad(value, str(exc)) from exc
    offset = parts["offset"]
    if offset:
        hours, minutes = int(offset[1:3]), int(offset[3:5])
        if hours > 14 or minutes > 59:
            raise _bad(value, "offset out of range")
        delta = timedelta(hours=hours, minutes=minutes)
        given = timezone(-delta if offset[0] == "-" else delta)
        return Hl7Time(at=naive.replace(tzinfo=given).astimezone(UTC), text=value)
    first = naive.replace(tzinfo=zone, fold=0)
    second = naive.replace(tzinfo=zone, fold=1)
    at = first.astimezone(UTC)
    if at.astimezone(zone).replace(tzinfo=None) != naive:
        raise MalformedMessage(
            "hl7.nonexistent_local_time",
            f"{value} does not exist in {zone.key}: the clocks go forward at that hour "
            "(send the time with its UTC offset)",
            zone=zone.key,
        )
    later = second.astimezone(UTC)
    return Hl7Time(at=at, later=later if later != at else None, text=value)


def hl7_date(value: str) -> date | None:
    """The date of a TS or DT value (birth date): no zone is involved."""
    if not value:
        return None
    try:
        return datetime.strptime(value[:8], "%Y%m%d").date()
    except ValueError as exc:
        raise _bad(value) from exc


def hl7_stamp(moment: datetime, zone: tzinfo) -> str:
    """``moment`` as an HL7 timestamp in ``zone`` with its offset (``20261203094749+0100``)."""
    return moment.astimezone(zone).strftime("%Y%m%d%H%M%S%z")
