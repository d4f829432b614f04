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
    by: str  # a staff user name, or "phone:<extension>" for a ring answered at a phone
    response_seconds: float
    via: str = "console"  # console, phone, badge


@dataclass(frozen=True, kw_only=True)
class NurseCallCleared(NurseCallEvent):
    by: str
    response_seconds: float | None


@dataclass(frozen=True, kw_only=True)
class NurseCallRingWanted(NurseCallEvent):
    """The phones an open call rings now (published by the bedside edge at the press, at each
    escalation and when it starts again; telephony keeps them ringing until the call is
    acknowledged or cleared). The caller name is the room and bed, never the patient's: with
    ``names_from_bed`` the dialplan shows the bed line's caller name from AstDB instead."""

    level: int
    phones: tuple[str, ...]
    caller_name: str
    caller_number: str
    bed_extension: str
    names_from_bed: bool
    connect_bed: bool
    dial_limit_seconds: int
    reissue_seconds: int


@dataclass(frozen=True, kw_only=True)
class NurseCallRingFailed(NurseCallEvent):
    """A phone of the call could not be rung (PBX unreachable, phone unavailable); telephony
    places the ring again as soon as it can, while the call is open."""

    phones: tuple[str, ...]
    reason: str  # pbx_unreachable, ring_refused (PBX up, Originate refused), phone_unavailable


@dataclass(frozen=True, kw_only=True)
class NurseCallRinging(NurseCallEvent):
    """Phones of the call are ringing (after the first ring, or again after a failure)."""

    phones: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class NurseCallAnsweredAtPhone(NurseCallEvent):
    """Someone answered the call's ring at ``extension`` (reported by the ring's dialplan):
    the bedside edge records it as the acknowledgement."""

    extension: str
