"""Nurse calls ring a phone: on :class:`NurseCallRaised` the ward's nurse station, on
:class:`NurseCallEscalated` the level's extension (or the other ward's nurse station).

The call comes from a Local channel in the staff context, showing ``Appel malade <bed label>``
(a bed label, never the patient) with the ward's nurse-call extension as the number; answered,
it plays an announcement. When the PBX is down the ring fails at once: it is logged and
counted (``failed``), never sent later (the nurse call itself stays open on the bedside side,
and its escalation rings again).

Wire it with ``bus.subscribe((NurseCallRaised, NurseCallEscalated), ringer,
name="telephony.nurse_call_ring")``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

import structlog
from pydantic import BaseModel, Field
from sqlalchemy import select

from telephony.calls.records import UnitOfWork
from wardline.db.models import Ward
from wardline.domain.nurse_call_events import (
    NurseCallEscalated,
    NurseCallEvent,
    NurseCallRaised,
)
from wardline.errors import WardlineError

log = structlog.get_logger(__name__)

CALLER_NAME = "Appel malade {bed}"


class NurseCallRingSettings(BaseModel):
    """Edge-local settings of the nurse-call ring (defaults match ``asterisk_conf``)."""

    context: str = Field(default="wl-internal", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    announcement: str = Field(default="wardline-nurse-call", pattern=r"^[A-Za-z0-9_/-]{1,64}$")
    ring_seconds: int = Field(default=60, gt=0, le=600)


class RingAlert(Protocol):
    """What the ringer needs of the PBX (:meth:`PbxActions.ring_alert`)."""

    def __call__(
        self,
        target: str,
        caller_number: str,
        caller_name: str,
        *,
        context: str,
        announcement: str,
        ring_seconds: int,
    ) -> Awaitable[str]: ...


WardPhones = Callable[[str], Awaitable[tuple[str | None, str | None]]]
"""ward code -> (nurse station extension, nurse-call extension)."""


class NurseCallRinger:
    def __init__(
        self,
        ring: RingAlert,
        ward_phones: WardPhones,
        settings: NurseCallRingSettings | None = None,
    ) -> None:
        self._ring = ring
        self._ward_phones = ward_phones
        self.settings = settings or NurseCallRingSettings()
        self.placed = 0
        self.failed = 0
        self.no_target = 0
        self.last_call_id: str | None = None
        """The PBX call id of the latest ring placed."""

    @classmethod
    def from_database(
        cls,
        ring: RingAlert,
        unit_of_work: UnitOfWork,
        settings: NurseCallRingSettings | None = None,
    ) -> NurseCallRinger:
        async def ward_phones(code: str) -> tuple[str | None, str | None]:
            async with unit_of_work() as s:
                row = (
                    await s.execute(
                        select(Ward.nurse_station_extension, Ward.nurse_call_extension).where(
                            Ward.code == code
                        )
                    )
                ).first()
            return (row[0], row[1]) if row is not None else (None, None)

        return cls(ring, ward_phones, settings)

    async def __call__(self, event: NurseCallEvent) -> None:
        """Ring for a raised or escalated nurse call (other nurse-call events: nothing)."""
        if not isinstance(event, NurseCallRaised | NurseCallEscalated):
            return
        station, nurse_call = await self._ward_phones(event.ward_code)
        target: str | None = None
        if isinstance(event, NurseCallRaised):
            target = event.nurse_station_extension or station
        elif event.extension:
            target = event.extension
        elif event.target_ward_code:
            target, _ = await self._ward_phones(event.target_ward_code)
        if not target:
            self.no_target += 1
            log.warning("nurse_call.no_phone", nurse_call=event.call_id, ward=event.ward_code)
            return
        s = self.settings
        try:
            call_id = await self._ring(
                target,
                nurse_call or "",
                CALLER_NAME.format(bed=event.bed_label),
                context=s.context,
                announcement=s.announcement,
                ring_seconds=s.ring_seconds,
            )
        except WardlineError as exc:
            self.failed += 1
            log.warning(
                "nurse_call.ring_failed",
                nurse_call=event.call_id,
                target=target,
                error=exc.error_id,
            )
            return
        self.placed += 1
        self.last_call_id = call_id
        log.info("nurse_call.ringing", nurse_call=event.call_id, target=target, call_id=call_id)
