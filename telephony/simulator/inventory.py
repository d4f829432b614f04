"""What the PBX simulator knows of the hospital: its phones (beds, nurse stations, staff,
switchboard operators), the switchboard queue, parking and the nurse-call extensions.

The default is the lab of the captures (:meth:`SimInventory.lab`); a hospital comes from its
inventory file (:meth:`from_file`) or from the loaded database (:meth:`from_database`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from telephony.config.plan import (
    AsteriskConfigRefused,
    BedPhone,
    PbxPlan,
    StaffLine,
    WardLine,
    plan_from_database,
    plan_from_file,
)
from wardline.domain.inventory_file import InventoryFile

if TYPE_CHECKING:
    from wardline.db.engine import Database


@dataclass(frozen=True)
class SimInventory:
    phones: dict[str, tuple[str, str]]
    """extension -> (display name, ward code) of every phone."""
    beds: frozenset[str]
    queue: str = "switchboard"
    queue_extensions: tuple[str, ...] = ("9", "8000")
    operators: tuple[str, ...] = ("9000",)
    """The queue's members (ringall)."""
    parking_extension: str = "700"
    parking_spaces: tuple[str, ...] = tuple(str(n) for n in range(701, 721))
    nurse_calls: dict[str, str | None] = field(default_factory=dict)
    """A ward's nurse-call extension -> its nurse station (None: straight to the queue)."""
    plan: PbxPlan | None = None
    """The plan ``wardline asterisk-config`` renders for this hospital (the simulator's
    dialplan is read from its output); None: made from the fields above."""
    emergency_numbers: tuple[str, ...] = ("15", "17", "18", "112")

    def pbx_plan(self) -> PbxPlan:
        """The plan of the generated configuration: the hospital's own, else one made from the
        phones, wards, queue and parking above (the lab)."""
        if self.plan is not None:
            return self.plan
        station_ward = {
            st: self.phones.get(st, ("", ""))[1] for st in self.nurse_calls.values() if st
        }
        wards = {
            code: WardLine(code=code, name=code, nurse_station=None, nurse_call=None)
            for ext, (_name, code) in self.phones.items()
            if code and ext in self.beds
        }
        for call, station in self.nurse_calls.items():
            code = station_ward.get(station or "", "") or next(iter(wards), "ward")
            wards[code] = WardLine(code=code, name=code, nurse_station=station, nurse_call=call)
        beds = [
            BedPhone(
                extension=ext, label=name, ward_code=code, nurse_station=wards[code].nurse_station
            )
            for ext, (name, code) in sorted(self.phones.items())
            if ext in self.beds
        ]
        staff = [
            StaffLine(
                extension=ext,
                kind="switchboard" if ext in self.operators else "nurse_station",
                label=name,
                ward_code=code if code in wards else None,
            )
            for ext, (name, code) in sorted(self.phones.items())
            if ext not in self.beds
        ]
        return PbxPlan(
            hospital_name="PBX simulator",
            switchboard_number=self.queue_extensions[0],
            queue_extension=self.queue_extensions[-1],
            queue=self.queue,
            operators=self.operators,
            emergency_numbers=self.emergency_numbers,
            parking_extension=self.parking_extension,
            parking_first=self.parking_spaces[0],
            parking_last=self.parking_spaces[-1],
            beds=tuple(beds),
            wards=tuple(sorted(wards.values(), key=lambda w: w.code)),
            staff=tuple(staff),
            dids=(),
        )

    def is_bed(self, extension: str) -> bool:
        return extension in self.beds

    @classmethod
    def lab(cls) -> SimInventory:
        """The lab of the captures: beds 2001-2006 (ward A), 2101-2104 (ward B), nurse
        station 2900 (nurse call 2990), switchboard 9000."""
        beds = {
            **{f"200{i}": (f"Ward A Bed {i}", "ward-a") for i in range(1, 7)},
            **{f"210{i}": (f"Ward B Bed {i}", "ward-b") for i in range(1, 5)},
        }
        phones = {
            **beds,
            "2900": ("Nurse Station Süd", "ward-a"),
            "9000": ("Switchboard", "switchboard"),
        }
        return cls(phones=phones, beds=frozenset(beds), nurse_calls={"2990": "2900"})

    @classmethod
    def from_file(cls, inv: InventoryFile) -> SimInventory:
        phones: dict[str, tuple[str, str]] = {}
        beds: set[str] = set()
        nurse_calls: dict[str, str | None] = {}
        for _site, ward, room, bed in inv.beds():
            phones[bed.extension] = (inv.bed_label(ward, room, bed), ward.code)
            beds.add(bed.extension)
        for site in inv.sites:
            for ward in site.wards:
                if ward.nurse_station:
                    phones[ward.nurse_station] = (f"Nurse station {ward.name}", ward.code)
                if ward.nurse_call:
                    nurse_calls[ward.nurse_call] = ward.nurse_station
                for level in ward.escalation:
                    for extension in [level.extension, *(level.extensions or ())]:
                        if extension:
                            phones[extension] = (f"{level.level} {ward.name}", ward.code)
        found = cls._with_hospital(phones, beds, nurse_calls, inv.hospital.model_dump())
        try:
            plan: PbxPlan | None = plan_from_file(inv)
        except AsteriskConfigRefused:  # an inventory the generator refuses: the fields' plan
            plan = None
        return replace(found, plan=plan)

    @classmethod
    async def from_database(cls, db: Database) -> SimInventory:
        """The hospital as loaded by ``wardline inventory load``: ``beds.extension`` (named
        by label), ``staff_phones``, the wards' nurse-call extensions and the
        ``inventory_meta`` row ``hospital`` (queue, operators, parking)."""
        from sqlalchemy import select

        from wardline.db.models import Bed, InventoryMeta, Room, StaffPhone, Ward

        phones: dict[str, tuple[str, str]] = {}
        beds: set[str] = set()
        nurse_calls: dict[str, str | None] = {}
        async with db.session() as s:
            rows = await s.execute(
                select(Bed.extension, Bed.label, Ward.code)
                .join(Room, Bed.room_id == Room.id)
                .join(Ward, Room.ward_id == Ward.id)
            )
            for extension, label, ward_code in rows:
                phones[extension] = (label, ward_code)
                beds.add(extension)
            for phone in await s.scalars(select(StaffPhone)):
                phones[phone.extension] = (phone.label, phone.ward_code or "")
            for ward in await s.scalars(select(Ward).where(Ward.nurse_call_extension.is_not(None))):
                assert ward.nurse_call_extension is not None
                nurse_calls[ward.nurse_call_extension] = ward.nurse_station_extension
            meta = await s.get(InventoryMeta, "hospital")
            hospital: dict[str, Any] = dict(meta.value) if meta is not None else {}
        found = cls._with_hospital(phones, beds, nurse_calls, hospital)
        try:
            plan: PbxPlan | None = await plan_from_database(db)
        except AsteriskConfigRefused:
            plan = None
        return replace(found, plan=plan)

    @classmethod
    def _with_hospital(
        cls,
        phones: dict[str, tuple[str, str]],
        beds: set[str],
        nurse_calls: dict[str, str | None],
        hospital: dict[str, Any],
    ) -> SimInventory:
        sw: dict[str, Any] = hospital.get("switchboard") or {}
        park: dict[str, Any] = hospital.get("parking") or {}
        operators = tuple(str(op) for op in sw.get("operators") or ())
        for op in operators:
            phones.setdefault(op, (f"Switchboard {op}", "switchboard"))
        first, last = str(park.get("first_slot", "701")), str(park.get("last_slot", "720"))
        width = len(first)
        spaces = tuple(str(n).zfill(width) for n in range(int(first), int(last) + 1))
        return cls(
            phones=phones,
            beds=frozenset(beds),
            queue=str(sw.get("queue", "switchboard")),
            queue_extensions=(str(sw.get("number", "9")), str(sw.get("queue_extension", "8000"))),
            operators=operators,
            parking_extension=str(park.get("extension", "700")),
            parking_spaces=spaces,
            nurse_calls=nurse_calls,
        )
