"""The simulator runs the hospital of an inventory (file or database), not only the lab:
phones, beds, the switchboard queue and parking come from the inventory; the dialplan routes
direct numbers (AstDB ``did/*``) to the bed of the stay, else to the switchboard. Checked over
real AMI with the telephony session's own picture of the PBX."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from telephony.calls.session import PbxSession
from telephony.simulator.inventory import SimInventory
from telephony.simulator.server import PbxSimulator
from tests.conftest import EXAMPLE_HOSPITAL, Hospital
from tests.services import wait_until
from tests.telephony.conftest import Lab, make_link
from wardline.domain.call_events import CallEnded, CallQueued, CallRinging, PhoneStateChanged
from wardline.domain.errors import InvalidInput
from wardline.domain.events import DomainEvent
from wardline.domain.inventory_file import read_inventory

BIG_HOSPITAL = EXAMPLE_HOSPITAL.parent / "hospital-2000.yaml"


async def _lab_of(sim: PbxSimulator) -> AsyncIterator[Lab]:
    await sim.start()
    events: list[DomainEvent] = []
    session = PbxSession(make_link(sim.port), events.append)
    await session.start()
    await session.link.wait_synced(5)
    try:
        yield Lab(sim, session, events)
    finally:
        await session.stop()
        await sim.stop()


@pytest.fixture
async def example() -> AsyncIterator[Lab]:
    async for lab in _lab_of(PbxSimulator.from_inventory(EXAMPLE_HOSPITAL)):
        yield lab


def test_the_lab_stays_the_default() -> None:
    inv = PbxSimulator().inventory
    assert inv == SimInventory.lab()
    assert inv.is_bed("2001") and inv.is_bed("2104")
    assert not inv.is_bed("2900") and not inv.is_bed("9000") and not inv.is_bed("2105")


@pytest.mark.parametrize(
    ("path", "beds", "width"), [(EXAMPLE_HOSPITAL, 120, 4), (BIG_HOSPITAL, 2000, 5)]
)
def test_inventory_file_gives_the_phones(path: Path, beds: int, width: int) -> None:
    inv = read_inventory(path)
    sim = PbxSimulator.from_inventory(inv)
    bed_exts = {bed.extension for *_r, bed in inv.beds()}
    assert sim.inventory.beds == bed_exts and len(bed_exts) == beds
    assert all(len(ext) == width for ext in bed_exts)
    ward = inv.sites[0].wards[0]
    assert ward.nurse_station is not None and not sim.is_bed(ward.nurse_station)
    assert ward.nurse_station in sim.pbx.phones
    assert sim.inventory.nurse_calls[ward.nurse_call or ""] == ward.nurse_station
    assert sim.pbx.queue_members == inv.hospital.switchboard.operators
    assert sim.inventory.queue_extensions == ("9", "8000")
    assert len(sim.inventory.parking_spaces) == 20
    assert sim.pbx.phones[next(iter(sorted(bed_exts)))].name.startswith(ward.code)


def test_bad_inventory_file_is_one_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("hospital: {name: x}\nsites: []\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match=r"bad\.yaml"):
        PbxSimulator.from_inventory(bad)


async def test_database_inventory_matches_the_file(hospital: Hospital) -> None:
    from_db = await PbxSimulator.from_database(hospital.db)
    from_file = PbxSimulator.from_inventory(EXAMPLE_HOSPITAL)
    assert from_db.inventory.beds == from_file.inventory.beds
    assert set(from_db.pbx.phones) == set(from_file.pbx.phones)
    assert from_db.inventory.operators == from_file.inventory.operators
    assert from_db.inventory.nurse_calls == from_file.inventory.nurse_calls
    assert from_db.inventory.parking_spaces == from_file.inventory.parking_spaces
    assert from_db.pbx.phones["2001"].name == from_file.pbx.phones["2001"].name


@pytest.fixture
async def big() -> AsyncIterator[Lab]:
    async for lab in _lab_of(PbxSimulator.from_inventory(BIG_HOSPITAL)):
        yield lab


async def test_big_hospital_over_ami_five_digit_beds(big: Lab) -> None:
    phones = big.session.state.snapshot().phones
    assert len(phones) == len(big.sim.pbx.phones) and phones["20001"] == "idle"
    big.sim.dial("20001", "20002")  # an empty bed's line is closed
    assert big.sim.calls() == {}
    big.sim.set_bed_line("20001")
    call_id = big.sim.dial("20001", "20002")
    await wait_until(lambda: big.of(CallRinging), 5)
    ring = big.of(CallRinging)[0]
    assert isinstance(ring, CallRinging) and ring.call_id == call_id
    assert ring.ringing_extension == "20002" and ring.caller_number == "20001"


async def test_did_rings_the_active_bed(example: Lab) -> None:
    sim = example.sim
    sim.set_bed_line("2003")
    sim.assign_did("0388110007", "2003")
    call_id = sim.external_call(to="0388110007", caller="0612345678", name="Hélène Dupré")
    assert sim.calls()[call_id] == {"trunk", "2003"}
    assert sim.ringing("2003") == (call_id, "0612345678", "Hélène Dupré")
    await wait_until(lambda: example.of(CallRinging), 5)
    ring = example.of(CallRinging)[0]
    assert ring == CallRinging(
        call_id=call_id,
        caller_number="0612345678",
        caller_name="Hélène Dupré",
        called_extension="0388110007",
        ringing_extension="2003",
        at=ring.at,
    )
    assert sim.queue() == []
    # what a bed's screen needs to drop the banner: the bed stops ringing, the call ends
    sim.hangup(call_id)
    await wait_until(lambda: example.of(CallEnded), 5)
    ended = example.of(CallEnded)[0]
    assert isinstance(ended, CallEnded) and ended.call_id == call_id
    assert "2003" in ended.extensions and ended.answered_at is None
    states = [
        (e.previous, e.state)
        for e in example.of(PhoneStateChanged)
        if isinstance(e, PhoneStateChanged) and e.extension == "2003"
    ]
    assert states[-1] == ("ringing", "idle") and any(new == "ringing" for _o, new in states)


@pytest.mark.parametrize(
    "case", ["unassigned", "line_closed", "do_not_disturb", "bed_busy", "bed_unregistered"]
)
async def test_did_goes_to_the_switchboard_otherwise(example: Lab, case: str) -> None:
    sim = example.sim
    sim.set_bed_line("2003", active=case != "line_closed", dnd=case == "do_not_disturb")
    if case != "unassigned":
        sim.assign_did("0388110007", "2003")
    if case == "bed_busy":
        sim.set_bed_line("2004")
        sim.dial("2003", "2004")
    if case == "bed_unregistered":
        sim.unregister("2003")
    call_id = sim.external_call(to="0388110007", caller="0687654321", name="Jean Muller")
    assert sim.queue() == [call_id]
    assert {"9000", "9001"} <= sim.calls()[call_id]
    await wait_until(lambda: example.of(CallQueued), 5)
    queued = example.of(CallQueued)[0]
    assert isinstance(queued, CallQueued) and queued.call_id == call_id
    assert queued.queue == "switchboard"
    assert not any(
        isinstance(e, CallRinging) and e.call_id == call_id and e.ringing_extension == "2003"
        for e in example.events
    )


async def test_nurse_call_extension_rings_the_station_else_the_queue(example: Lab) -> None:
    sim = example.sim
    sim.set_bed_line("2001")
    sim.set_bed_line("2002")
    first = sim.dial("2001", "2990")
    assert sim.ringing("2900") == (first, "2001", sim.pbx.phones["2001"].name)
    second = sim.dial("2002", "2990")  # the station is busy: the switchboard takes it
    assert sim.queue() == [second]


async def test_did_value_that_is_not_an_extension_goes_to_the_switchboard(example: Lab) -> None:
    example.sim.set_bed_line("2003")
    example.sim.astdb["did/0388110007"] = "2003;junk"
    call_id = example.sim.external_call(to="0388110007", caller="0612345678")
    assert example.sim.queue() == [call_id] and example.sim.ringing("2003") is None
