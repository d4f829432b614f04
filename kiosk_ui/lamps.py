"""The console's lamps: every bed phone and staff phone, grouped by ward, with its state."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel

from kiosk_ui.inventory_read import beds, staff_phones, wards
from wardline import appkeys as k


class Lamp(BaseModel):
    extension: str
    label: str
    kind: str
    """bed, or the staff phone's kind (nurse_station, switchboard...)."""
    state: str
    """idle, ringing, in_use, on_hold, unavailable."""


class WardLamps(BaseModel):
    code: str
    name: str
    lamps: list[Lamp]


class LampsOut(BaseModel):
    wards: list[WardLamps]


HOSPITAL = "HOSPITAL"


async def lamp_layout(app: web.Application) -> LampsOut:
    db = app[k.DATABASE]
    board = app.get(k.SWITCHBOARD)
    states = dict(board.snapshot().phones) if board is not None else {}
    groups: dict[str, WardLamps] = {
        code: WardLamps(code=code, name=name, lamps=[]) for code, name in await wards(db)
    }
    for phone in await staff_phones(db):
        code = phone.ward_code or HOSPITAL
        if code not in groups:
            groups[code] = WardLamps(code=code, name="Hospital", lamps=[])
        groups[code].lamps.append(
            Lamp(
                extension=phone.extension,
                label=phone.label,
                kind=phone.kind,
                state=states.get(phone.extension, "unavailable"),
            )
        )
    for bed in await beds(db):
        groups[bed.ward_code].lamps.append(
            Lamp(
                extension=bed.extension,
                label=bed.label,
                kind="bed",
                state=states.get(bed.extension, "unavailable"),
            )
        )
    ordered = sorted(groups.values(), key=lambda g: (g.code == HOSPITAL, g.code))
    return LampsOut(wards=ordered)
