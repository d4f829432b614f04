"""Read-only views of the inventory for the pages: wards, beds with their phones, staff phones."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from wardline.db.engine import Database
from wardline.db.models import Bed, Room, StaffPhone, Terminal, Ward


@dataclass(frozen=True)
class BedRow:
    label: str
    extension: str
    ward_code: str
    ward_name: str
    room: str
    terminal_id: str | None
    terminal_online: bool | None


async def ward_codes(db: Database) -> list[str]:
    async with db.sessions() as s:
        return list(await s.scalars(select(Ward.code).order_by(Ward.code)))


async def wards(db: Database) -> list[tuple[str, str]]:
    async with db.sessions() as s:
        rows = await s.execute(select(Ward.code, Ward.name).order_by(Ward.code))
        return [(code, name) for code, name in rows]


async def beds(db: Database) -> list[BedRow]:
    async with db.sessions() as s:
        rows = await s.execute(
            select(Bed, Room.code, Ward.code, Ward.name, Terminal)
            .join(Room, Bed.room_id == Room.id)
            .join(Ward, Room.ward_id == Ward.id)
            .outerjoin(Terminal, Terminal.bed_id == Bed.id)
            .order_by(Ward.code, Bed.extension)
        )
        return [
            BedRow(
                bed.label,
                bed.extension,
                ward,
                ward_name,
                room,
                terminal.id if terminal else None,
                terminal.online if terminal else None,
            )
            for bed, room, ward, ward_name, terminal in rows
        ]


async def staff_phones(db: Database) -> list[StaffPhone]:
    async with db.sessions() as s:
        return list(
            await s.scalars(select(StaffPhone).order_by(StaffPhone.ward_code, StaffPhone.extension))
        )
