"""Loading the inventory into the database: idempotent and all-or-nothing.

Sites, wards, rooms, beds, terminals, staff phones and DIDs are created or brought up to date;
nothing is deleted (a bed that disappears from the file may still hold a stay: retiring it is
an explicit admin action). The same file loaded twice changes nothing the second time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from wardline.bus import EventBus
from wardline.db.engine import Database
from wardline.db.models import (
    Bed,
    Did,
    InventoryMeta,
    Room,
    Site,
    StaffPhone,
    Terminal,
    Ward,
)
from wardline.domain.audit import AuditLog
from wardline.domain.commands import Actor
from wardline.domain.errors import Conflict
from wardline.domain.events import InventoryLoaded
from wardline.domain.inventory_file import InventoryFile, read_inventory
from wardline.domain.nurse_call_policy import POLICY_META_KEY


@dataclass
class LoadReport:
    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)

    def count(self, kind: str, created: bool) -> None:
        bucket = self.created if created else self.updated
        bucket[kind] = bucket.get(kind, 0) + 1

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated)


def _assign(obj: Any, values: dict[str, Any]) -> bool:
    changed = False
    for key, value in values.items():
        if getattr(obj, key) != value:
            setattr(obj, key, value)
            changed = True
    return changed


class _Rows:
    """Existing rows of the inventory tables, read once, so a load does one query per table."""

    def __init__(self) -> None:
        self._by_model: dict[Any, dict[tuple[Any, ...], Any]] = {}

    async def get(self, s: AsyncSession, model: Any, key: dict[str, Any]) -> Any:
        names = tuple(sorted(key))
        cache_key = (model, names)
        if cache_key not in self._by_model:
            rows = (await s.scalars(select(model))).all()
            self._by_model[cache_key] = {tuple(getattr(r, n) for n in names): r for r in rows}
        return self._by_model[cache_key].get(tuple(key[n] for n in names))

    def put(self, model: Any, key: dict[str, Any], obj: Any) -> None:
        names = tuple(sorted(key))
        self._by_model.setdefault((model, names), {})[tuple(key[n] for n in names)] = obj


async def _upsert(
    s: AsyncSession,
    report: LoadReport,
    model: Any,
    key: dict[str, Any],
    values: dict[str, Any],
    rows: _Rows,
    need_id: bool = False,
) -> Any:
    obj = await rows.get(s, model, key)
    if obj is None:
        obj = model(**key, **values)
        s.add(obj)
        rows.put(model, key, obj)
        if need_id:
            await s.flush()
        report.count(model.__tablename__, True)
    elif _assign(obj, values):
        report.count(model.__tablename__, False)
    return obj


async def apply_inventory(s: AsyncSession, inv: InventoryFile) -> LoadReport:
    report, rows = LoadReport(), _Rows()
    sw = inv.hospital.switchboard
    meta = {"value": inv.hospital.model_dump()}
    await _upsert(s, report, InventoryMeta, {"key": "hospital"}, meta, rows)
    policies = {
        ward.code: ward.nurse_call_policy.model_dump() for site in inv.sites for ward in site.wards
    }
    await _upsert(s, report, InventoryMeta, {"key": POLICY_META_KEY}, {"value": policies}, rows)
    phones: dict[str, dict[str, Any]] = {
        op: {"kind": "switchboard", "label": f"Switchboard {op}", "ward_code": None}
        for op in sw.operators
    }
    for site_e in inv.sites:
        site = await _upsert(
            s, report, Site, {"code": site_e.code}, {"name": site_e.name}, rows, need_id=True
        )
        for ward_e in site_e.wards:
            ward_values = {
                "site_id": site.id,
                "name": ward_e.name,
                "nurse_station_extension": ward_e.nurse_station,
                "nurse_call_extension": ward_e.nurse_call,
                "escalation": [lvl.model_dump(exclude_none=True) for lvl in ward_e.escalation],
            }
            ward = await _upsert(
                s, report, Ward, {"code": ward_e.code}, ward_values, rows, need_id=True
            )
            if ward_e.nurse_station:
                phones[ward_e.nurse_station] = {
                    "kind": "nurse_station",
                    "label": f"Nurse station {ward_e.name}",
                    "ward_code": ward_e.code,
                }
            for lvl in ward_e.escalation:
                for extension in [lvl.extension, *(lvl.extensions or ())]:
                    if extension:
                        phones[extension] = {
                            "kind": lvl.level,
                            "label": f"{lvl.level} {ward_e.name}",
                            "ward_code": ward_e.code,
                        }
            for room_e in ward_e.rooms:
                room_key = {"ward_id": ward.id, "code": room_e.code}
                room = await _upsert(s, report, Room, room_key, {}, rows, need_id=True)
                for bed_e in room_e.beds:
                    await _load_bed(
                        s, report, rows, inv.bed_label(ward_e, room_e, bed_e), bed_e, room
                    )
    for extension, values in phones.items():
        await _upsert(s, report, StaffPhone, {"extension": extension}, values, rows)
    existing = set((await s.scalars(select(Did.number))).all())
    for rng in inv.dids:
        for number in rng.numbers():
            if number not in existing:
                s.add(Did(number=number, state="free"))
                report.count("dids", True)
    await s.flush()
    return report


async def _load_bed(
    s: AsyncSession, report: LoadReport, rows: _Rows, label: str, bed_e: Any, room: Room
) -> None:
    other = await rows.get(s, Bed, {"extension": bed_e.extension})
    if other is not None and other.label != label:
        raise Conflict(
            "inventory.extension_taken",
            f"extension {bed_e.extension} already belongs to bed {other.label}",
            extension=bed_e.extension,
        )
    values = {
        "room_id": room.id,
        "code": bed_e.code,
        "extension": bed_e.extension,
        "fhir_location_id": bed_e.fhir_location,
    }
    bed = await _upsert(s, report, Bed, {"label": label}, values, rows, need_id=True)
    if bed_e.terminal:
        holder = await rows.get(s, Terminal, {"bed_id": bed.id})
        if holder is not None and holder.id != bed_e.terminal:
            holder.bed_id = None
            await s.flush()
        terminal = await _upsert(
            s, report, Terminal, {"id": bed_e.terminal}, {"bed_id": bed.id}, rows
        )
        rows.put(Terminal, {"bed_id": bed.id}, terminal)


async def load_inventory(
    db: Database, path: Path, actor: Actor, audit: AuditLog, bus: EventBus | None = None
) -> LoadReport:
    """Validate the whole file, then apply it in one transaction with its audit row."""
    inv = read_inventory(path)
    async with db.session() as s:
        report = await apply_inventory(s, inv)
        if report.changed:
            await audit.record(
                s,
                actor.name,
                "inventory.load",
                "inventory",
                path.name,
                {"created": report.created, "updated": report.updated},
            )
    if bus is not None and report.changed:
        beds = len(inv.beds())
        terminals = sum(1 for *_r, b in inv.beds() if b.terminal)
        bus.publish(InventoryLoaded(beds=beds, terminals=terminals))
    return report


async def hospital_meta(db: Database) -> dict[str, Any]:
    async with db.sessions() as s:
        meta = await s.get(InventoryMeta, "hospital")
        return dict(meta.value) if meta else {}
