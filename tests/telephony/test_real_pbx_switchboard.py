"""Issue 21 on a real Asterisk 22 loaded with the generated configuration, SIP phones played
by sipp: a DID follows the stay, and every switchboard action works (answer, blind and
attended transfer with complete and cancel, park and pick up, dial a bed, hang up)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from telephony.calls.session import PbxSession
from telephony.lines.bed_lines import BedLines
from tests.conftest import Hospital
from tests.lines.conftest import ADT, admit
from tests.services import wait_until
from tests.telephony.conftest import Lab
from tests.telephony.real_pbx import RawAmi, RealPbx, SipCall, SipPhone, place_call
from wardline.db.engine import Database
from wardline.domain import call_events as ev
from wardline.domain import commands as c

pytestmark = pytest.mark.asterisk

CAPTURES = Path(__file__).parent / "captures"
OPERATOR = "9000"
OUTSIDE = "0612345678"


@pytest.fixture
async def db(tmp_path: Path, migrated_templates: dict[str, str]) -> AsyncIterator[Database]:
    """SQLite only here: the PBX is what these tests are about."""
    target = tmp_path / "wardline.db"
    shutil.copyfile(migrated_templates["sqlite"], target)
    database = Database(f"sqlite+aiosqlite:///{target}")
    yield database
    await database.dispose()


class Phones:
    def __init__(self, pbx: RealPbx) -> None:
        self.pbx = pbx
        self.phones: list[SipPhone] = []
        self.calls: list[SipCall] = []

    async def register(self, *extensions: str, answers: bool = True) -> None:
        for ext in extensions:
            self.phones.append(await SipPhone(self.pbx, ext, answers=answers).register())

    async def call(self, to: str, **kwargs: object) -> SipCall:
        call = await place_call(self.pbx, to, **kwargs)  # type: ignore[arg-type]
        self.calls.append(call)
        return call

    async def close(self) -> None:
        for call in self.calls:
            await call.hang_up()
        for phone in self.phones:
            await phone.stop()


@pytest.fixture
async def phones(real_pbx: RealPbx, request: pytest.FixtureRequest) -> AsyncIterator[Phones]:
    """The phones of a test, and an AMI session recording every byte the PBX sends while it
    runs: with ``WARDLINE_RECORD_CAPTURES=1`` written to ``captures/real_<test>.ami``
    (replayed by test_real_captures.py)."""
    found = Phones(real_pbx)
    recorder = await RawAmi.login(real_pbx.ami_port)
    reading = asyncio.create_task(_record(recorder))
    try:
        yield found
    finally:
        await found.close()
        await asyncio.sleep(0.5)
        reading.cancel()
        await asyncio.gather(reading, return_exceptions=True)
        await recorder.close()
        if os.environ.get("WARDLINE_RECORD_CAPTURES") == "1":
            name = request.node.name.removeprefix("test_")
            (CAPTURES / f"real_{name}.ami").write_bytes(bytes(recorder.raw))


async def _record(ami: RawAmi) -> None:
    with contextlib.suppress(ConnectionError):
        while True:
            await ami._read()


def calls_of(lab: Lab, phone: str) -> list[str]:
    return [c.call_id for c in lab.session.state.snapshot().calls if phone in c.extensions]


def answered(lab: Lab, by: str) -> list[ev.CallAnswered]:
    return [e for e in lab.of(ev.CallAnswered) if e.answered_by == by]  # type: ignore[union-attr]


async def the_queued_call(lab: Lab) -> str:
    await wait_until(lambda: any(lab.session.state.snapshot().queues.values()), timeout=15)
    return next(iter(v for v in lab.session.state.snapshot().queues.values() if v))[0]


async def test_a_did_rings_its_bed_after_a01_and_the_switchboard_after_a03(
    real_pbx: RealPbx, real_session: Lab, phones: Phones, hospital: Hospital
) -> None:
    session: PbxSession = real_session.session
    lines = BedLines(session.actions, hospital.db)
    lines.subscribe(hospital.bus)
    await lines.reconcile()
    await phones.register("2001", OPERATOR)
    stay = await hospital.stays.admit(admit("V1", "P1", "CARDIO-101-A"), ADT)
    did = stay.did
    assert did
    await hospital.bus.drain()
    await wait_until(lambda: session.actions.get("did", did), timeout=10)
    assert await session.actions.get("did", did) == "2001"

    await phones.call(did, caller=OUTSIDE, name="Hélène Dupré", from_trunk=True)
    await wait_until(lambda: answered(real_session, "2001"), timeout=15)
    assert not lab_queued(real_session)
    await session.actions.hangup(answered(real_session, "2001")[0].call_id, OPERATOR)
    await wait_until(lambda: not session.state.calls, timeout=10)

    await hospital.stays.discharge(c.Discharge(visit_number="V1"), ADT)
    await hospital.bus.drain()
    await wait_until(lambda: _gone(session, did), timeout=10)
    await phones.call(did, caller=OUTSIDE, from_trunk=True)
    call_id = await the_queued_call(real_session)
    assert calls_of(real_session, "2001") == []
    assert call_id in {c.call_id for c in session.state.snapshot().calls}
    await lines.close()


async def _gone(session: PbxSession, did: str) -> bool:
    return await session.actions.get("did", did) is None


def lab_queued(lab: Lab) -> list[ev.DomainEvent]:
    return lab.of(ev.CallQueued)


async def test_queued_call_answered_from_the_console_then_blind_transferred_to_a_bed(
    real_pbx: RealPbx, real_session: Lab, phones: Phones
) -> None:
    actions = real_session.session.actions
    await phones.register(OPERATOR, "2002")
    await phones.call("9", caller="2001")  # a bed calls the switchboard number: the queue
    call_id = await the_queued_call(real_session)
    await actions.transfer_blind(call_id, OPERATOR, OPERATOR)  # "answer"
    await wait_until(lambda: OPERATOR in _talking(real_session, call_id), timeout=15)
    await actions.transfer_blind(call_id, "2002", OPERATOR)
    await wait_until(lambda: "2002" in _talking(real_session, call_id), timeout=15)
    await wait_until(lambda: OPERATOR not in _talking(real_session, call_id), timeout=10)
    transfers = [e for e in real_session.of(ev.CallTransferred) if e.call_id == call_id]
    assert transfers and transfers[-1].to_extension == "2002"  # type: ignore[attr-defined]


def _talking(lab: Lab, call_id: str) -> set[str]:
    """Phones with a channel up in this call now."""
    call = lab.session.state.calls.get(call_id)
    if call is None:
        return set()
    return {ch.phone for ch in call.channels.values() if ch.phone and ch.state == "Up"}


async def answered_by_operator(lab: Lab, phones: Phones, caller: str = "2001") -> str:
    """A bed calls the switchboard; the operator answers from the console: the call id."""
    await phones.call("9", caller=caller)
    call_id = await the_queued_call(lab)
    await lab.session.actions.transfer_blind(call_id, OPERATOR, OPERATOR)
    await wait_until(lambda: OPERATOR in _talking(lab, call_id), timeout=15)
    return call_id


def _up(lab: Lab) -> set[str]:
    """Every phone with a channel up, whatever its call."""
    return {
        ch.phone
        for call in lab.session.state.calls.values()
        for ch in call.channels.values()
        if ch.phone and ch.state == "Up"
    }


def _together(lab: Lab, *phones_up: str) -> bool:
    """Some call has all these phones up and no other phone."""
    for call in lab.session.state.calls.values():
        up = {ch.phone for ch in call.channels.values() if ch.phone and ch.state == "Up"}
        if up == set(phones_up):
            return True
    return False


async def test_attended_transfer_completed_and_cancelled(
    real_pbx: RealPbx, real_session: Lab, phones: Phones
) -> None:
    actions = real_session.session.actions
    await phones.register(OPERATOR, "2002", "2003")
    call_id = await answered_by_operator(real_session, phones)
    # cancelled: 2002 answers the consultation, then the operator goes back to the caller
    await actions.transfer_attended(call_id, "2002", OPERATOR)
    await wait_until(lambda: {OPERATOR, "2001", "2002"} <= _up(real_session), timeout=15)
    await actions.cancel_transfer(call_id, OPERATOR)
    await wait_until(lambda: "2002" not in _up(real_session), timeout=15)
    assert {OPERATOR, "2001"} <= _talking(real_session, call_id)
    # completed: the caller meets 2003, the operator is free
    await actions.transfer_attended(call_id, "2003", OPERATOR)
    await wait_until(lambda: "2003" in _up(real_session), timeout=15)
    await actions.complete_transfer(call_id, OPERATOR)
    await wait_until(lambda: _together(real_session, "2001", "2003"), timeout=15)
    assert OPERATOR not in _up(real_session)
    kinds = {e.kind for e in real_session.of(ev.CallTransferred)}  # type: ignore[attr-defined]
    assert "attended" in kinds


async def test_park_then_pick_up(real_pbx: RealPbx, real_session: Lab, phones: Phones) -> None:
    actions = real_session.session.actions
    await phones.register(OPERATOR)
    call_id = await answered_by_operator(real_session, phones)
    space = await actions.park(call_id, OPERATOR)
    assert space in real_session.session.state.parked
    parked = [e for e in real_session.of(ev.CallParked) if e.space == space]  # type: ignore[attr-defined]
    assert parked
    await wait_until(lambda: OPERATOR not in _talking(real_session, call_id), timeout=10)
    await actions.pickup(space, OPERATOR)
    await wait_until(lambda: _together(real_session, OPERATOR, "2001"), timeout=15)
    await wait_until(lambda: space not in real_session.session.state.parked, timeout=10)
    assert real_session.of(ev.CallUnparked)


async def test_dial_a_bed_then_hang_up(
    real_pbx: RealPbx, real_session: Lab, phones: Phones
) -> None:
    actions = real_session.session.actions
    await phones.register(OPERATOR, "2002")
    call_id = await actions.call_bed(OPERATOR, "2002")
    await wait_until(lambda: _together(real_session, OPERATOR, "2002"), timeout=15)
    view = next(c for c in real_session.session.state.snapshot().calls if c.call_id == call_id)
    assert view.called_extension == "2002"
    assert view.phase == "talking"
    await actions.hangup(call_id, OPERATOR)
    await wait_until(lambda: not real_session.session.state.calls, timeout=10)
    ended = [e for e in real_session.of(ev.CallEnded) if e.call_id == call_id]
    assert ended and ended[0].answered_at is not None  # type: ignore[attr-defined]


async def test_no_phone_registered(real_pbx: RealPbx, real_session: Lab) -> None:
    """The resync of an idle PBX with no phone at all succeeds (no failed list)."""
    snapshot = real_session.session.state.snapshot()
    assert snapshot.calls == ()
    assert "idle" not in snapshot.phones.values()
    assert real_session.session.link.readiness()["state"] == "up"
    assert real_pbx.problems() == []


async def test_a_pbx_restart_rebuilds_the_state(
    real_pbx: RealPbx, real_session: Lab, phones: Phones
) -> None:
    actions = real_session.session.actions
    await actions.write({"bed/2001/active": "1"}, ())
    await phones.register(OPERATOR)
    call_id = await answered_by_operator(real_session, phones)
    await real_pbx.stop()
    await wait_until(lambda: real_session.session.link.state == "down", timeout=10)
    await real_pbx.start()
    await real_session.session.link.wait_synced(30)
    await wait_until(lambda: call_id not in real_session.session.state.calls, timeout=10)
    assert [e for e in real_session.of(ev.CallEnded) if e.call_id == call_id]
    ups = [e for e in real_session.of(ev.PbxConnectionChanged) if e.state == "up"]  # type: ignore[attr-defined]
    assert len(ups) >= 2
    assert await actions.get("bed", "2001/active") == "1"  # AstDB is kept on disk


async def test_a_bed_calling_its_nurse_station_shows_the_patient_name(
    real_pbx: RealPbx, real_session: Lab, phones: Phones, hospital: Hospital
) -> None:
    session: PbxSession = real_session.session
    lines = BedLines(session.actions, hospital.db)
    lines.subscribe(hospital.bus)
    await lines.reconcile()
    await phones.register("2900")  # the nurse station of CARDIO
    await hospital.stays.admit(admit("V2", "P2", "CARDIO-101-A", family="Dupré"), ADT)
    await hospital.bus.drain()
    await wait_until(lambda: session.actions.get("bed", "2001/cidname"), timeout=10)
    name = await session.actions.get("bed", "2001/cidname")
    assert name and "DUPRÉ" in name
    await phones.call("2900", caller="2001")
    await wait_until(lambda: answered(real_session, "2900"), timeout=15)
    ringing = [e for e in real_session.of(ev.CallRinging) if e.ringing_extension == "2900"]  # type: ignore[attr-defined]
    assert ringing[0].caller_name == name  # type: ignore[attr-defined]
    await lines.close()
