"""What the generated Asterisk configuration is made of: beds, wards, staff phones, the
switchboard, parking, emergency numbers and the DID pool, read from the inventory in the
database (or from an inventory file), then checked before anything is rendered.

A plan is plain, sorted data: the same inventory gives the same plan, hence the same bytes.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import select

from wardline.db.engine import Database
from wardline.db.models import Did, InventoryMeta, StaffPhone, Stay, Ward
from wardline.domain.inventory_file import HospitalEntry, InventoryFile
from wardline.domain.nurse_call_policy import DEFAULT_POLICY
from wardline.domain.stay_views import all_bed_refs
from wardline.errors import WardlineError


class AsteriskConfigRefused(WardlineError):
    """The inventory cannot give a working PBX configuration; nothing was written."""


@dataclass(frozen=True, kw_only=True)
class BedPhone:
    extension: str
    label: str
    ward_code: str
    nurse_station: str | None


@dataclass(frozen=True, kw_only=True)
class WardLine:
    code: str
    name: str
    nurse_station: str | None
    nurse_call: str | None


@dataclass(frozen=True, kw_only=True)
class StaffLine:
    extension: str
    kind: str
    label: str
    ward_code: str | None


@dataclass(frozen=True, kw_only=True)
class PbxPlan:
    hospital_name: str
    switchboard_number: str
    queue_extension: str
    queue: str
    operators: tuple[str, ...]
    emergency_numbers: tuple[str, ...]
    parking_extension: str
    parking_first: str
    parking_last: str
    beds: tuple[BedPhone, ...]
    wards: tuple[WardLine, ...]
    staff: tuple[StaffLine, ...]
    dids: tuple[str, ...]
    stay_dids: tuple[str, ...] = field(default=())
    """DIDs held by stays in the database (each must belong to the pool)."""

    @property
    def nurse_ring_limit(self) -> int:
        """Seconds one nurse-call ring lasts when the Originate names none (the policy's)."""
        return DEFAULT_POLICY.dial_limit_seconds

    @property
    def parking_slots(self) -> list[str]:
        width = len(self.parking_first)
        return [
            str(n).zfill(width) for n in range(int(self.parking_first), int(self.parking_last) + 1)
        ]

    def did_ranges(self) -> list[tuple[str, str]]:
        """The pool as runs of consecutive numbers of the same width."""
        runs: list[tuple[str, str]] = []
        for number in self.dids:
            if runs:
                first, last = runs[-1]
                if len(last) == len(number) and int(number) == int(last) + 1:
                    runs[-1] = (first, number)
                    continue
            runs.append((number, number))
        return runs

    def phone_extensions(self) -> list[str]:
        """Every SIP endpoint: bed phones, staff phones (nurse stations, operators...)."""
        return [b.extension for b in self.beds] + [s.extension for s in self.staff]


def _staff_from_file(inv: InventoryFile) -> list[StaffLine]:
    phones: dict[str, StaffLine] = {}
    for op in inv.hospital.switchboard.operators:
        phones[op] = StaffLine(
            extension=op, kind="switchboard", label=f"Switchboard {op}", ward_code=None
        )
    for site in inv.sites:
        for ward in site.wards:
            if ward.nurse_station:
                phones[ward.nurse_station] = StaffLine(
                    extension=ward.nurse_station,
                    kind="nurse_station",
                    label=f"Nurse station {ward.name}",
                    ward_code=ward.code,
                )
            for lvl in ward.escalation:
                for extension in [lvl.extension, *(lvl.extensions or ())]:
                    if extension:
                        phones[extension] = StaffLine(
                            extension=extension,
                            kind=lvl.level,
                            label=f"{lvl.level} {ward.name}",
                            ward_code=ward.code,
                        )
    return list(phones.values())


def _plan(
    hospital: HospitalEntry,
    beds: list[BedPhone],
    wards: list[WardLine],
    staff: list[StaffLine],
    dids: list[str],
    stay_dids: list[str],
) -> PbxPlan:
    sw, park = hospital.switchboard, hospital.parking
    return PbxPlan(
        hospital_name=hospital.name,
        switchboard_number=sw.number,
        queue_extension=sw.queue_extension,
        queue=sw.queue,
        operators=tuple(sw.operators),
        emergency_numbers=tuple(hospital.emergency_numbers),
        parking_extension=park.extension,
        parking_first=park.first_slot,
        parking_last=park.last_slot,
        beds=tuple(sorted(beds, key=lambda b: b.extension)),
        wards=tuple(sorted(wards, key=lambda w: w.code)),
        staff=tuple(sorted(staff, key=lambda s: s.extension)),
        dids=tuple(sorted(dids, key=lambda d: (len(d), d))),
        stay_dids=tuple(sorted(stay_dids)),
    )


def plan_from_file(inv: InventoryFile) -> PbxPlan:
    wards = [
        WardLine(code=w.code, name=w.name, nurse_station=w.nurse_station, nurse_call=w.nurse_call)
        for s in inv.sites
        for w in s.wards
    ]
    station = {w.code: w.nurse_station for w in wards}
    beds = [
        BedPhone(
            extension=b.extension,
            label=inv.bed_label(w, r, b),
            ward_code=w.code,
            nurse_station=station[w.code],
        )
        for _s, w, r, b in inv.beds()
    ]
    dids = [n for rng in inv.dids for n in rng.numbers()]
    plan = _plan(inv.hospital, beds, wards, _staff_from_file(inv), dids, [])
    check_plan(plan)
    return plan


async def plan_from_database(db: Database) -> PbxPlan:
    async with db.sessions() as s:
        meta = await s.get(InventoryMeta, "hospital")
        if meta is None:
            raise AsteriskConfigRefused(
                "asterisk_config.no_inventory",
                "no inventory in the database: run `wardline inventory load FILE` first",
            )
        hospital = HospitalEntry.model_validate(meta.value)
        ward_rows = (await s.scalars(select(Ward))).all()
        wards = [
            WardLine(
                code=w.code,
                name=w.name,
                nurse_station=w.nurse_station_extension,
                nurse_call=w.nurse_call_extension,
            )
            for w in ward_rows
        ]
        station = {w.code: w.nurse_station for w in wards}
        beds = [
            BedPhone(
                extension=r.extension,
                label=r.label,
                ward_code=r.ward_code,
                nurse_station=station.get(r.ward_code),
            )
            for r in await all_bed_refs(s)
        ]
        staff = [
            StaffLine(extension=p.extension, kind=p.kind, label=p.label, ward_code=p.ward_code)
            for p in (await s.scalars(select(StaffPhone))).all()
        ]
        dids = list((await s.scalars(select(Did.number))).all())
        held = (
            await s.scalars(select(Stay.did).where(Stay.status == "active", Stay.did.is_not(None)))
        ).all()
    plan = _plan(hospital, beds, wards, staff, dids, [d for d in held if d])
    check_plan(plan)
    return plan


def _refuse(error_id: str, message: str, **details: str) -> AsteriskConfigRefused:
    return AsteriskConfigRefused(f"asterisk_config.{error_id}", message, **details)


def _safe_text(what: str, text: str) -> None:
    """Names go into comments and caller ids: no line breaks, quotes or comment marks."""
    if any(ch in text for ch in '";[]\\') or any(not ch.isprintable() for ch in text):
        raise _refuse(
            "unsafe_text",
            f"{what} {text!r} has a character that cannot go into an Asterisk file",
        )


def check_plan(plan: PbxPlan) -> None:
    """Refuse a plan Asterisk could not route unambiguously (first problem named)."""
    _safe_text("hospital name", plan.hospital_name)
    for phone in plan.staff:
        _safe_text(f"label of phone {phone.extension}", phone.label)
    for ward in plan.wards:
        _safe_text(f"name of ward {ward.code}", ward.name)
    owners: list[tuple[str, str]] = [(b.extension, f"bed {b.label}") for b in plan.beds]
    owners += [(s.extension, f"staff phone {s.label}") for s in plan.staff]
    for ward in plan.wards:
        if ward.nurse_call:
            owners.append((ward.nurse_call, f"nurse call of ward {ward.code}"))
    owners.append((plan.queue_extension, "switchboard queue"))
    owners.append((plan.switchboard_number, "switchboard number"))
    owners.append((plan.parking_extension, "parking"))
    owners += [(slot, "parking slot") for slot in plan.parking_slots]
    owners += [(n, "emergency number") for n in plan.emergency_numbers]
    seen: dict[str, str] = {}
    for ext, owner in owners:
        if ext in seen and seen[ext] != owner:
            raise _refuse(
                "duplicate_extension",
                f"extension {ext} is used twice: {seen[ext]} and {owner}",
                extension=ext,
            )
        seen[ext] = owner
    for ward in plan.wards:
        if ward.nurse_station and ward.nurse_station not in {s.extension for s in plan.staff}:
            raise _refuse(
                "unknown_station",
                f"ward {ward.code}: nurse station {ward.nurse_station} is not a staff phone",
            )
    for number in plan.dids:
        if not number.isdigit():
            raise _refuse("bad_did", f"DID {number!r} is not a number", did=number)
        if number in seen:
            raise _refuse(
                "did_is_extension", f"DID {number} is also extension of {seen[number]}", did=number
            )
    pool = set(plan.dids)
    for number in plan.stay_dids:
        if number not in pool:
            ranges = ", ".join(f"{a}-{b}" for a, b in plan.did_ranges()) or "(empty)"
            raise _refuse(
                "did_outside_pool",
                f"DID {number} held by a stay is outside the DID pool ({ranges})",
                did=number,
            )
    dupes = [n for n, c in Counter(plan.dids).items() if c > 1]
    if dupes:
        raise _refuse("duplicate_did", f"DID {dupes[0]} appears twice in the pool", did=dupes[0])
