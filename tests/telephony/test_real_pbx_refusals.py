"""Issue 21 on a real Asterisk 22 loaded with the generated configuration: what it answers to
switchboard actions into a context or an extension its dialplan does not have (the old
``hospital`` context, an unknown extension), and to actions on a channel that is gone. With
``WARDLINE_RECORD_CAPTURES=1`` each flow is written to ``captures/real_refused_<flow>.ami``,
which test_simulator_refusals.py holds the simulator to."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.services import wait_until
from tests.telephony import test_real_pbx_switchboard as board
from tests.telephony.conftest import Lab
from tests.telephony.real_pbx import RealPbx
from tests.telephony.refusals import BED, OPERATOR, Recorder, outcome, run_flow
from tests.telephony.test_real_pbx_switchboard import Phones, _talking, answered_by_operator

pytestmark = pytest.mark.asterisk

db = board.db  # the SQLite database of the switchboard tests


@pytest.fixture
async def phones(real_pbx: RealPbx) -> AsyncIterator[Phones]:
    """The phones of a test (the flow's own session records the capture)."""
    found = Phones(real_pbx)
    try:
        yield found
    finally:
        await found.close()


CAPTURES = Path(__file__).parent / "captures"
INVALID = "sent to invalid extension but no invalid handler"


async def answered_call(lab: Lab, phones: Phones) -> tuple[str, str, str]:
    """A bed calls the switchboard, the operator answers: (call id, bed leg, operator leg)."""
    call_id = await answered_by_operator(lab, phones, caller=BED)
    call = lab.session.state.calls[call_id]
    legs = {ch.phone: ch.name for ch in call.channels.values() if ch.state == "Up"}
    return call_id, legs[BED], legs[OPERATOR]


async def recorded(pbx: RealPbx, lab: Lab, phones: Phones, flow: str) -> list[tuple[str, ...]]:
    await phones.register(OPERATOR)
    ami = (await Recorder.login(pbx.ami_port)).start()
    try:
        _call_id, bed, operator = await answered_call(lab, phones)
        await run_flow(ami, flow, bed, operator)
    finally:
        await ami.stop()
    if os.environ.get("WARDLINE_RECORD_CAPTURES") == "1":
        (CAPTURES / f"real_refused_{flow}.ami").write_bytes(bytes(ami.raw))
    return outcome(ami.received)


@pytest.mark.parametrize("flow", ["redirect", "redirect_old_context"])
async def test_a_redirect_nowhere_succeeds_then_both_parties_are_hung_up(
    real_pbx: RealPbx, real_session: Lab, phones: Phones, flow: str
) -> None:
    seen = await recorded(real_pbx, real_session, phones, flow)
    assert seen[0] == ("answer", "refused-redirect", "Success", "Redirect successful")
    hangups = [(e[0], e[1], e[2]) for e in seen if e[0] in ("SoftHangupRequest", "Hangup")]
    assert sorted(hangups) == [  # their order varies from run to run
        ("Hangup", "bed", "16"),
        ("Hangup", "operator", "16"),
        ("SoftHangupRequest", "bed", "16"),
    ]
    await wait_until(lambda: not real_session.session.state.calls, timeout=10)
    assert INVALID in real_pbx.log_text()


async def test_a_blind_transfer_nowhere_succeeds_then_both_parties_are_hung_up(
    real_pbx: RealPbx, real_session: Lab, phones: Phones
) -> None:
    seen = await recorded(real_pbx, real_session, phones, "blind_transfer")
    assert seen[0] == ("answer", "refused-blind", "Success", "Transfer succeeded")
    assert ("BlindTransfer", "bed", "", "Success", "operator") in seen
    hangups = [(e[0], e[1], e[2]) for e in seen if e[0] in ("SoftHangupRequest", "Hangup")]
    assert sorted(hangups) == [  # the caller is sent nowhere, the operator's leg ends
        ("Hangup", "bed", "16"),
        ("Hangup", "operator", "16"),
        ("SoftHangupRequest", "bed", "16"),
    ]
    assert INVALID in real_pbx.log_text()


async def test_an_attended_transfer_nowhere_takes_the_caller_back(
    real_pbx: RealPbx, real_session: Lab, phones: Phones
) -> None:
    seen = await recorded(real_pbx, real_session, phones, "attended_transfer")
    answers = [e for e in seen if e[0] == "answer"]
    assert [a[2:] for a in answers] == [("Success", "Atxfer successfully queued")] * 2
    bounce = [("Hold", "operator"), ("MusicOnHoldStart", "bed")]
    bounce += [("Unhold", "operator"), ("MusicOnHoldStop", "bed")]
    assert [(e[0], e[1]) for e in seen if e[0] != "answer"] == bounce * 2
    assert not [e for e in seen if e[0] == "Hangup"]
    (call_id,) = real_session.session.state.calls
    assert _talking(real_session, call_id) == {BED, OPERATOR}


async def test_an_originate_nowhere_and_actions_on_a_gone_channel_are_refused(
    real_pbx: RealPbx, real_session: Lab, phones: Phones
) -> None:
    seen = await recorded(real_pbx, real_session, phones, "originate")
    assert [e[1:] for e in seen if e[0] == "answer"] == [
        ("refused-originate", "Error", "Extension does not exist."),
        ("refused-originate-exten", "Error", "Extension does not exist."),
        ("refused-gone", "Error", "Channel does not exist: PJSIP/9000-0000ffff"),
        ("refused-gone-blind", "Error", "Channel specified does not exist"),
        ("refused-gone-atxfer", "Error", "Channel specified does not exist"),
        ("refused-gone-hangup", "Error", "No such channel"),
        ("refused-gone-park", "Error", "Channel does not exist: PJSIP/9000-0000ffff"),
    ]
    assert len(real_session.session.state.calls) == 1  # the call is untouched
