"""The simulator answers a switchboard action into a context or extension the generated
dialplan does not have, or on a channel that is gone, as Asterisk 22.10.1 did in the recorded
flows (``captures/real_refused_*.ami``, test_real_pbx_refusals.py): the same answers, and the
same hangups, holds and transfer events after each."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from telephony.simulator.server import PbxSimulator
from tests.services import wait_until
from tests.telephony.refusals import BED, FLOWS, OPERATOR, Recorder, by_answer, outcome, run_flow
from tests.telephony.replay import capture


@pytest.fixture
async def sim() -> AsyncIterator[PbxSimulator]:
    simulator = await PbxSimulator().start()
    try:
        yield simulator
    finally:
        await simulator.stop()


async def answered(sim: PbxSimulator, ami: Recorder) -> tuple[str, str]:
    """The bed calls the switchboard; the operator's leg is sent the call and answers."""
    pbx = sim.pbx
    sim.set_bed_line(BED, active=True, dnd=False)
    sim.dial(BED, "9")
    await wait_until(lambda: pbx.phone_channel(OPERATOR) is not None, timeout=5)
    sim.answer(OPERATOR)
    await wait_until(lambda: (pbx.phone_channel(OPERATOR) or _none()).bridge, timeout=5)
    bed, operator = pbx.phone_channel(BED), pbx.phone_channel(OPERATOR)
    assert bed is not None and operator is not None
    return bed.name, operator.name


def _none() -> object:
    class Nothing:
        bridge = None

    return Nothing()


@pytest.mark.parametrize("flow", sorted(FLOWS))
async def test_the_simulator_refuses_what_asterisk_refused(sim: PbxSimulator, flow: str) -> None:
    real = by_answer(outcome_of_capture(flow))
    ami = (await Recorder.login(sim.port, secret="wardline-secret")).start()
    try:
        bed, operator = await answered(sim, ami)
        await run_flow(ami, flow, bed, operator, pause=0.2)
    finally:
        await ami.stop()
    assert by_answer(outcome(ami.received)) == real


def outcome_of_capture(flow: str) -> list[tuple[str, ...]]:
    from telephony.ami.frames import parse_stream

    return outcome(parse_stream(capture(f"real_refused_{flow}.ami")))


def test_the_captures_hold_the_refusals() -> None:
    """The recorded flows are what issue 21 is about (a capture emptied would pass above)."""
    redirect = by_answer(outcome_of_capture("redirect"))
    assert redirect[0][0][2:] == ("Success", "Redirect successful")
    assert ("Hangup", "operator", "16", "", "") in redirect[0][1]
    originate = by_answer(outcome_of_capture("originate"))
    assert originate[0][0][2:] == ("Error", "Extension does not exist.")
    attended = by_answer(outcome_of_capture("attended_transfer"))
    assert [e[0] for e in attended[0][1]] == sorted(
        ["Hold", "MusicOnHoldStart", "Unhold", "MusicOnHoldStop"]
    )
