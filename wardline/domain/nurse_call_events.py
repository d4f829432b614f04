"""Nurse-call events (owned by the bedside edge). Telephony rings the nurse station on
:class:`NurseCallRaised` and the escalation target on :class:`NurseCallEscalated`; the console
shows all four. Ids, beds and extensions only: never patient identity or clinical data."""

from __future__ import annotations

from dataclasses import dataclass

from wardline.domain.events import DomainEvent


@dataclass(frozen=True, kw_only=True)
class NurseCallEvent(DomainEvent):
    call_id: int
    bed_label: str
    ward_code: str


@dataclass(frozen=True, kw_only=True)
class NurseCallRaised(NurseCallEvent):
    """A patient called: ring ``nurse_station_extension`` (None when the ward has none)."""

    nurse_station_extension: str | None
    source: str  # button, pull_cord, tv


@dataclass(frozen=True, kw_only=True)
class NurseCallEscalated(NurseCallEvent):
    """Not acknowledged in time: alert the next level (an extension, or another ward's station)."""

    level: int  # 1, 2... in order of the ward's time limits
    level_name: str  # the inventory's name of the level (charge_nurse, neighbour_ward...)
    extension: str | None
    target_ward_code: str | None


@dataclass(frozen=True, kw_only=True)
class NurseCallAcknowledged(NurseCallEvent):
    by: str
    response_seconds: float


@dataclass(frozen=True, kw_only=True)
class NurseCallCleared(NurseCallEvent):
    by: str
    response_seconds: float | None
