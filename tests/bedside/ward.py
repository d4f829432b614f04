"""A real little hospital for the bedside tests, on the core's migrated database: a ward with
beds, terminals and DIDs, and nurses enrolled through the core's staff directory."""

from __future__ import annotations

from typing import Any

from wardline.db.engine import Database
from wardline.db.models import Bed, Did, Room, Site, Terminal, Ward
from wardline.domain.audit import AuditLog
from wardline.domain.commands import SYSTEM_ADMIN_CLI
from wardline.domain.staff import StaffDirectory


async def seed_ward(
    db: Database,
    ward_code: str,
    beds: list[tuple[str, str, str, str | None]],
    *,
    station: str = "2000",
    escalation: list[dict[str, Any]] | None = None,
    dids: list[str] = (),  # type: ignore[assignment]
) -> None:
    """Beds as (label, room, extension, terminal id)."""
    async with db.session() as s:
        site = Site(code=f"S-{ward_code}", name="Test site")
        ward = Ward(
            site=site, code=ward_code, name=f"Ward {ward_code}", nurse_station_extension=station,
            escalation=escalation or [],
        )  # fmt: skip
        rooms: dict[str, Room] = {}
        for label, room_code, ext, tid in beds:
            room = rooms.setdefault(room_code, Room(ward=ward, code=room_code))
            bed = Bed(room=room, code=label[-1], label=label, extension=ext)
            s.add(bed)
            if tid is not None:
                s.add(Terminal(id=tid, bed=bed, model="TV-1"))
        s.add(ward)
        for number in dids:
            s.add(Did(number=number, state="free"))


async def add_nurse(db: Database, username: str, badge_id: str, roles: str = "nurse") -> None:
    staff = StaffDirectory(db, AuditLog())
    await staff.add_user(
        SYSTEM_ADMIN_CLI, username=username, display_name=username.title(),
        roles=set(roles.split(",")), password="long-enough-pw", badge=badge_id,
    )  # fmt: skip
