"""The simulator emits, for the same call, the event sequence real Asterisk 22 emitted in the
captures (the events the state model reads; variables, dialplan steps and CDRs left out)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from telephony.ami.frames import AmiMessage, parse_stream
from telephony.simulator import features as sim_features
from telephony.simulator.server import PbxSimulator
from tests.telephony.replay import capture

KEY = {
    "Newchannel", "Newstate", "DialBegin", "DialState", "DialEnd", "BridgeEnter",
    "BridgeLeave", "BridgeDestroy", "HangupRequest", "Hangup", "QueueCallerJoin",
    "QueueCallerLeave", "AgentCalled", "AgentConnect", "ParkedCall", "UnParkedCall",
    "MusicOnHoldStart", "MusicOnHoldStop",
}  # fmt: skip


def story(messages: list[AmiMessage], call_id: str) -> list[str]:
    """The call's key events as ``Name(phone:state)``; runs of Hangup sorted (their order
    varies between Asterisk runs)."""
    out: list[str] = []
    bridges: set[str] = set()
    for m in messages:
        if m.name not in KEY or m.action_id:  # list items answer an action: not the story
            continue
        mine = call_id in (m.get("Linkedid"), m.get("DestLinkedid"), m.get("ParkeeLinkedid"))
        if mine or m.get("BridgeUniqueid") in bridges:
            if m.name == "BridgeEnter":
                bridges.add(m.get("BridgeUniqueid"))
            channel = m.get("Channel") or m.get("ParkeeChannel")
            phone = channel.split("/")[-1].split("-")[0]
            out.append(f"{m.name}({phone}:{m.get('ChannelStateDesc')})")
    last_hangup = max(i for i, e in enumerate(out) if e.startswith("Hangup("))
    out = out[: last_hangup + 1]
    i = 0
    while i < len(out):
        j = i
        while j < len(out) and out[j].startswith("Hangup("):
            j += 1
        out[i:j] = sorted(out[i:j])
        i = max(j, i + 1)
    return out


@pytest.fixture
async def sim() -> AsyncIterator[tuple[PbxSimulator, list[AmiMessage]]]:
    simulator = await PbxSimulator().start()
    heard: list[AmiMessage] = []
    simulator.pbx.listeners.append(
        lambda name, headers, _p: heard.append(AmiMessage("event", name, headers))
    )
    for bed in ("2001", "2002", "2004"):
        simulator.astdb[f"bed/{bed}/active"] = "1"
    yield simulator, heard
    await simulator.stop()


def real(name: str, call_id: str) -> list[str]:
    return story(parse_stream(capture(name)), call_id)


async def test_bed_to_bed_call_like_asterisk(sim: tuple[PbxSimulator, list[AmiMessage]]) -> None:
    simulator, heard = sim
    call_id = simulator.dial("2001", "2002")
    simulator.answer("2002")
    simulator.hangup("2001")
    assert story(heard, call_id) == real("03_bed_to_bed_call.ami", "1795347478.12")


async def test_queue_call_like_asterisk(sim: tuple[PbxSimulator, list[AmiMessage]]) -> None:
    simulator, heard = sim
    call_id = simulator.dial("2002", "9")
    simulator.answer("9000")
    simulator.hangup("2002")
    assert story(heard, call_id) == real("06_queue_call.ami", "1795347639.28")


async def test_park_and_pickup_like_asterisk(sim: tuple[PbxSimulator, list[AmiMessage]]) -> None:
    simulator, heard = sim
    call_id = simulator.dial("2001", "2900")
    simulator.answer("2900")
    parkee = next(c for c in simulator.pbx.channels.values() if c.phone == "2001")
    assert sim_features.park(simulator.pbx, parkee, "2001") == "701"
    simulator.dial("2004", "701")
    simulator.hangup("2001")
    assert story(heard, call_id) == real("07_park.ami", "1795347684.35")


async def test_redirect_like_asterisk(sim: tuple[PbxSimulator, list[AmiMessage]]) -> None:
    from telephony.simulator.transfers import redirect

    simulator, heard = sim
    call_id = simulator.dial("2001", "2900")
    simulator.answer("2900")
    caller = next(c for c in simulator.pbx.channels.values() if c.phone == "2001")
    redirect(simulator.pbx, caller, "2002")
    simulator.answer("2002")
    simulator.hangup("2001")
    assert story(heard, call_id) == real("05_transfer_or_redirect.ami", "1795347573.17")


async def test_blind_transfer_like_asterisk(sim: tuple[PbxSimulator, list[AmiMessage]]) -> None:
    from telephony.simulator.transfers import blind_transfer

    simulator, heard = sim
    simulator.astdb["bed/2003/active"] = "1"
    call_id = simulator.dial("2003", "2900")
    simulator.answer("2900")
    operator = next(c for c in simulator.pbx.channels.values() if c.phone == "2900")
    assert blind_transfer(simulator.pbx, operator, "2004")
    simulator.answer("2004")
    simulator.hangup("2003")
    mine, theirs = story(heard, call_id), real("05_transfer_or_redirect.ami", "1795347593.20")
    cut = theirs.index("Hangup(2900:Up)") + 1  # up to the transferer's hang-up: same order
    assert mine[:cut] == theirs[:cut]
    assert sorted(mine[cut:]) == sorted(theirs[cut:])  # the new leg's Ringing/DialBegin race
