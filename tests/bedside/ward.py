"""A real little hospital for the bedside tests: an SQLite database with the core schema (and
the bedside tables), a ward with beds and terminals, and an in-memory ``Stays`` read/write
implementation that publishes the core's domain events on a real bus."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

import bedside.models  # noqa: F401  (registers the bedside tables)
from wardline.bus import EventBus
from wardline.db.base import Base
from wardline.db.models import Bed, Room, Site, StaffUser, Terminal, Ward
from wardline.domain.events import (
    BedRef,
    PatientUpdated,
    StayAdmitted,
    StayDischarged,
    StayTransferred,
)


class SqliteDatabase:
    def __init__(self, path: Path) -> None:
        self.engine = create_async_engine(f"sqlite+aiosqlite:///{path}")
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    async def create(self) -> None:
        async with self.engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self._sessions() as session, session.begin():
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()


async def seed_ward(
    db: SqliteDatabase,
    ward_code: str,
    beds: list[tuple[str, str, str, str | None]],
    *,
    station: str = "2000",
    escalation: list[dict[str, Any]] | None = None,
) -> None:
    """Beds as (label, room, extension, terminal id)."""
    async with db.session() as s:
        site = Site(code=f"S-{ward_code}", name="Test site")
        ward = Ward(
            site=site,
            code=ward_code,
            name=f"Ward {ward_code}",
            nurse_station_extension=station,
            escalation=escalation or [],
        )
        rooms: dict[str, Room] = {}
        for label, room_code, ext, tid in beds:
            room = rooms.setdefault(room_code, Room(ward=ward, code=room_code))
            bed = Bed(room=room, code=label[-1], label=label, extension=ext)
            s.add(bed)
            if tid is not None:
                s.add(Terminal(id=tid, bed=bed, model="TV-1"))
        s.add(ward)


async def add_nurse(db: SqliteDatabase, username: str, badge_id: str, roles: str = "nurse") -> int:
    async with db.session() as s:
        user = StaffUser(
            username=username,
            display_name=username.title(),
            roles=roles,
            password_hash="x",
            badge_hash=hashlib.sha256(badge_id.encode()).hexdigest(),
            ward_code=None,
        )
        s.add(user)
        await s.flush()
        return user.id


@dataclass(frozen=True)
class PatientView:
    id: int
    family_name: str
    given_name: str
    addressed_as: str | None
    preferred_language: str | None


@dataclass(frozen=True)
class StayView:
    stay_id: int
    visit_number: str
    status: str
    patient: PatientView
    bed: BedRef | None
    did: str | None
    do_not_disturb: bool = False
    line_suspended: bool = False
    on_leave: bool = False


class MemoryStays:
    """A real (in-memory) implementation of the Stays API the bedside edge reads."""

    def __init__(self, db: SqliteDatabase, bus: EventBus) -> None:
        self._db = db
        self._bus = bus
        self._stays: dict[str, StayView] = {}
        self._next = 1

    async def _bed(self, label: str) -> BedRef:
        from bedside.beds import place_of_bed

        async with self._db.session() as s:
            place = await place_of_bed(s, label)
        assert place is not None
        return BedRef(
            bed_id=place.bed_id,
            label=label,
            extension=place.extension,
            ward_code=place.ward_code,
            terminal_id=place.terminal_id,
        )

    async def stay_by_visit(self, visit: str) -> StayView | None:
        return self._stays.get(visit)

    async def stay_for_bed(self, bed_label: str) -> StayView | None:
        for stay in self._stays.values():
            if stay.status == "active" and stay.bed is not None and stay.bed.label == bed_label:
                return stay
        return None

    async def admit(self, visit: str, patient: PatientView, bed_label: str, did: str) -> StayView:
        bed = await self._bed(bed_label)
        stay = StayView(self._next, visit, "active", patient, bed, did)
        self._next += 1
        self._stays[visit] = stay
        self._bus.publish(
            StayAdmitted(
                stay_id=stay.stay_id, visit_number=visit, patient_id=patient.id, bed=bed, did=did
            )
        )
        return stay

    async def transfer(self, visit: str, bed_label: str) -> None:
        stay = self._stays[visit]
        new = await self._bed(bed_label)
        assert stay.bed is not None
        self._stays[visit] = replace(stay, bed=new)
        self._bus.publish(
            StayTransferred(
                stay_id=stay.stay_id,
                visit_number=visit,
                patient_id=stay.patient.id,
                from_bed=stay.bed,
                to_bed=new,
                did=stay.did,
            )
        )

    async def discharge(self, visit: str) -> None:
        stay = self._stays[visit]
        self._stays[visit] = replace(stay, status="finished")
        self._bus.publish(
            StayDischarged(
                stay_id=stay.stay_id,
                visit_number=visit,
                patient_id=stay.patient.id,
                bed=stay.bed,
                did=stay.did,
            )
        )

    async def update_patient(self, visit: str, **changes: Any) -> None:
        stay = self._stays[visit]
        self._stays[visit] = replace(stay, patient=replace(stay.patient, **changes))
        self._bus.publish(PatientUpdated(patient_id=stay.patient.id, stay_id=stay.stay_id))
