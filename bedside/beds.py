"""What the bedside edge reads of the inventory: a bed's room, ward, terminal and the ward's
nurse station and escalation path (core tables, read-only)."""

from __future__ import annotations

import time
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from wardline.db.models import Bed, Room, Terminal, Ward


class SessionSource(Protocol):
    """The core's ``Database``: ``async with db.session() as s`` commits on success."""

    def session(self) -> AbstractAsyncContextManager[AsyncSession]: ...


@dataclass(frozen=True)
class BedPlace:
    bed_id: int
    label: str
    room: str
    ward_code: str
    ward_name: str
    extension: str
    terminal_id: str | None
    nurse_station_extension: str | None
    escalation: tuple[dict[str, Any], ...]
    bed_code: str = ""


def _query() -> Select[Bed]:
    return select(Bed).options(
        selectinload(Bed.room).selectinload(Room.ward), selectinload(Bed.terminal)
    )


def _place(bed: Bed) -> BedPlace:
    ward = bed.room.ward
    return BedPlace(
        bed_id=bed.id,
        label=bed.label,
        room=bed.room.code,
        bed_code=bed.code,
        ward_code=ward.code,
        ward_name=ward.name,
        extension=bed.extension,
        terminal_id=bed.terminal.id if bed.terminal is not None else None,
        nurse_station_extension=ward.nurse_station_extension or ward.nurse_call_extension,
        escalation=tuple(ward.escalation or ()),
    )


async def place_of_bed(session: AsyncSession, label: str) -> BedPlace | None:
    bed = (await session.execute(_query().where(Bed.label == label))).scalar_one_or_none()
    return _place(bed) if bed is not None else None


async def place_of_terminal(session: AsyncSession, terminal_id: str) -> BedPlace | None:
    query = _query().join(Terminal, Terminal.bed_id == Bed.id).where(Terminal.id == terminal_id)
    bed = (await session.execute(query)).scalar_one_or_none()
    return _place(bed) if bed is not None else None


async def places_of_ward(session: AsyncSession, ward_code: str) -> list[BedPlace]:
    query = _query().join(Room, Bed.room_id == Room.id).join(Ward, Room.ward_id == Ward.id)
    beds = (await session.execute(query.where(Ward.code == ward_code))).scalars().all()
    return [_place(bed) for bed in beds]


async def all_places(session: AsyncSession) -> list[BedPlace]:
    return [_place(bed) for bed in (await session.execute(_query())).scalars().all()]


async def terminal_ids(session: AsyncSession) -> list[str]:
    return list((await session.execute(select(Terminal.id).order_by(Terminal.id))).scalars())


async def ward_by_code(session: AsyncSession, ward_code: str) -> Ward | None:
    return (await session.execute(select(Ward).where(Ward.code == ward_code))).scalar_one_or_none()


class Places:
    """The inventory's beds in memory, by terminal, bed label and ward: the nurse-call and
    context paths read them without a query. Reloaded on :meth:`invalidate` (inventory
    loaded) and on a miss (an id not missed in the last ``miss_seconds``)."""

    def __init__(self, db: SessionSource, miss_seconds: float = 5.0) -> None:
        self._db = db
        self._miss_seconds = miss_seconds
        self._by_terminal: dict[str, BedPlace] = {}
        self._by_bed: dict[str, BedPlace] = {}
        self._by_ward: dict[str, list[BedPlace]] = {}
        self._loaded = False
        self._misses: dict[str, float] = {}

    def invalidate(self) -> None:
        self._loaded = False
        self._misses.clear()

    async def load(self) -> list[BedPlace]:
        async with self._db.session() as session:
            places = await all_places(session)
        self._by_bed = {p.label: p for p in places}
        self._by_terminal = {p.terminal_id: p for p in places if p.terminal_id is not None}
        by_ward: dict[str, list[BedPlace]] = {}
        for place in places:
            by_ward.setdefault(place.ward_code, []).append(place)
        self._by_ward = by_ward
        self._loaded = True
        return places

    async def _find(self, kind: str, key: str) -> BedPlace | None:
        if not self._loaded:
            await self.load()
        table = self._by_terminal if kind == "terminal" else self._by_bed
        found = table.get(key)
        if found is not None:
            return found
        now, miss = time.monotonic(), f"{kind}:{key}"
        if now - self._misses.get(miss, -self._miss_seconds) >= self._miss_seconds:
            self._misses[miss] = now
            await self.load()
            table = self._by_terminal if kind == "terminal" else self._by_bed
            found = table.get(key)
        return found

    async def of_terminal(self, terminal_id: str) -> BedPlace | None:
        return await self._find("terminal", terminal_id)

    async def of_bed(self, label: str) -> BedPlace | None:
        return await self._find("bed", label)

    async def of_ward(self, ward_code: str) -> list[BedPlace]:
        if not self._loaded:
            await self.load()
        return list(self._by_ward.get(ward_code, ()))
