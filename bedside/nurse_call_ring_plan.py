"""Which phones an open nurse call rings, from its ward's policy (inventory: the nurse station,
the escalation levels, ``nurse_call_policy``): a :class:`NurseCallRingWanted` for telephony.

The call is the state: the plan is derived from the stored call (its ward, bed and level)
every time it is asked for, so it is the same at the press, at each escalation and after a
restart.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bedside.beds import BedPlace
from bedside.models import NurseCall
from wardline.db.models import InventoryMeta, Ward
from wardline.domain.nurse_call_events import NurseCallRingWanted
from wardline.domain.nurse_call_policy import (
    POLICY_META_KEY,
    NurseCallPolicy,
    phones_at_level,
    policy_of,
    room_bed_name,
)


class RingPlanner:
    def __init__(self, language: str = "fr") -> None:
        self.language = language

    async def policy(self, session: AsyncSession, ward_code: str) -> NurseCallPolicy:
        meta = await session.get(InventoryMeta, POLICY_META_KEY)
        stored: dict[str, Any] = dict(meta.value) if meta is not None else {}
        return policy_of(stored, ward_code)

    async def plan(
        self, session: AsyncSession, call: NurseCall, place: BedPlace
    ) -> NurseCallRingWanted:
        """The ring of ``call`` at its current level."""
        ward = (
            await session.execute(select(Ward).where(Ward.code == call.ward_code))
        ).scalar_one_or_none()
        policy = await self.policy(session, call.ward_code)
        escalation: list[dict[str, Any]] = list(ward.escalation or ()) if ward else []
        named = {str(step["ward"]) for step in escalation if step.get("ward")}
        stations: dict[str, str | None] = {}
        if named:
            rows = await session.execute(
                select(Ward.code, Ward.nurse_station_extension).where(Ward.code.in_(named))
            )
            stations = {code: ext for code, ext in rows}
        station = place.nurse_station_extension
        phones = phones_at_level(station, escalation, call.level, policy, stations.get)
        return NurseCallRingWanted(
            call_id=call.id,
            bed_label=call.bed_label,
            ward_code=call.ward_code,
            level=call.level,
            phones=phones,
            caller_name=room_bed_name(place.room, place.bed_code, self.language),
            caller_number=(ward.nurse_call_extension if ward else None) or place.extension,
            bed_extension=place.extension,
            names_from_bed=policy.caller_name == "patient",
            connect_bed=policy.answer_connects_bed,
            dial_limit_seconds=policy.dial_limit_seconds,
            reissue_seconds=policy.reissue_seconds,
        )
