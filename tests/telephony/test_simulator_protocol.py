"""The simulator's AMI as a raw client sees it (bytes on a socket), compared with what real
Asterisk 22 sends in the captures; and the link's fallbacks and backoff."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator

import pytest

from telephony.ami.frames import AmiMessage, FrameDecoder
from telephony.ami.link import Backoff
from telephony.calls.session import PbxSession
from telephony.simulator.server import PbxSimulator
from tests.services import wait_until
from tests.telephony.conftest import make_link


class RawClient:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.decoder = FrameDecoder()
        self.raw = bytearray()
        self.inbox: list[AmiMessage] = []

    async def send(self, **headers: str) -> None:
        text = "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        self.writer.write(text.encode())
        await self.writer.drain()

    async def until(self, predicate: object, within: float = 3.0) -> AmiMessage:
        async with asyncio.timeout(within):
            while True:
                for message in self.inbox:
                    if predicate(message):  # type: ignore[operator]
                        self.inbox.remove(message)
                        return message
                data = await self.reader.read(65536)
                if not data:
                    raise EOFError
                self.raw += data
                self.inbox += self.decoder.feed(data)


@pytest.fixture
async def sim() -> AsyncIterator[PbxSimulator]:
    simulator = await PbxSimulator().start()
    yield simulator
    await simulator.stop()


async def client(sim: PbxSimulator, events: str = "on") -> RawClient:
    reader, writer = await asyncio.open_connection("127.0.0.1", sim.port)
    raw = RawClient(reader, writer)
    await raw.send(
        Action="Login", ActionID="l1", Username="wardline", Secret="wardline-secret", Events=events
    )
    login = await raw.until(lambda m: m.action_id == "l1")
    assert login.name == "Success"
    return raw


async def test_banner_login_failure_closes_the_socket(sim: PbxSimulator) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", sim.port)
    raw = RawClient(reader, writer)
    await raw.send(Action="Login", ActionID="l1", Username="wardline", Secret="nope")
    answer = await raw.until(lambda m: m.action_id == "l1")
    assert (answer.name, answer.get("Message")) == ("Error", "Authentication failed")
    assert bytes(raw.raw).startswith(b"Asterisk Call Manager/11.0.0\r\nResponse: Error")
    assert await reader.read() == b""  # closed by the PBX
    writer.close()


async def test_ping_unknown_action_events_off_and_logoff(sim: PbxSimulator) -> None:
    quiet = await client(sim, events="off")
    loud = await client(sim)
    sim.dial("2900", "2001")
    await loud.until(lambda m: m.name == "Newchannel")
    await quiet.send(Action="Ping", ActionID="p1")
    pong = await quiet.until(lambda m: m.action_id == "p1")
    assert pong.get("Ping") == "Pong"
    assert not [m for m in quiet.inbox if m.kind == "event"]
    await quiet.send(Action="FooBarNoSuchAction", ActionID="x1")
    error = await quiet.until(lambda m: m.action_id == "x1")
    assert (error.name, error.get("Message")) == ("Error", "Invalid/unknown command")
    await quiet.send(Action="Logoff", ActionID="bye")
    assert (await quiet.until(lambda m: m.action_id == "bye")).name == "Goodbye"
    assert await quiet.reader.read() == b""
    for raw in (quiet, loud):
        raw.writer.close()


async def test_park_answer_has_asterisk_bare_lf_and_lists_are_framed(sim: PbxSimulator) -> None:
    raw = await client(sim)
    sim.astdb["bed/2001/active"] = "1"
    sim.dial("2001", "2900")
    sim.answer("2900")
    newchannel = await raw.until(lambda m: m.name == "Newchannel")
    await raw.send(Action="Park", ActionID="park-1", Channel=newchannel.get("Channel"))
    await raw.until(lambda m: m.action_id == "park-1")
    assert b"Message: Park successful\n\r\n\r\n" in raw.raw
    parked = await raw.until(lambda m: m.name == "ParkedCall")
    assert parked.get("ParkingSpace") == "701" and parked.get("ParkeeCallerIDNum") == "2001"
    await raw.send(Action="CoreShowChannels", ActionID="c1")
    start = await raw.until(lambda m: m.action_id == "c1" and m.kind == "response")
    assert start.get("EventList") == "start"
    item = await raw.until(lambda m: m.action_id == "c1" and m.name == "CoreShowChannel")
    assert item.variables() == {"WARD": "ward-a", "QUEUENAME": ""}
    done = await raw.until(lambda m: m.name == "CoreShowChannelsComplete")
    assert (done.get("EventList"), done.get("ListItems")) == ("Complete", "1")
    await raw.send(Action="DBGet", ActionID="g1", Family="bed/2001", Key="active")
    assert (await raw.until(lambda m: m.name == "DBGetResponse")).get("Val") == "1"
    await raw.send(Action="DBGet", ActionID="g2", Family="bed/2001", Key="none")
    missing = await raw.until(lambda m: m.action_id == "g2")
    assert missing.get("Message") == "Database entry not found"
    raw.writer.close()


async def test_resync_falls_back_to_extension_states() -> None:
    sim = await PbxSimulator(disabled_actions=frozenset({"DeviceStateList"})).start()
    sim.astdb["bed/2001/active"] = "1"
    sim.dial("2001", "2002")
    session = PbxSession(make_link(sim.port))
    try:
        await session.start()
        await session.link.wait_synced(5)
        phones = session.state.snapshot().phones
        assert phones["2002"] == "ringing" and phones["2003"] == "idle"
        assert session.snapshot_phase(next(iter(session.state.calls))) == "ringing"
        await session.link.wait_synced(0.1)  # already synced: returns at once
    finally:
        await session.stop()
        await sim.stop()
    await wait_until(lambda: session.link.state == "down")


def test_backoff_grows_is_capped_and_jittered() -> None:
    backoff = Backoff(initial=0.5, maximum=8.0, factor=2.0, jitter=0.2)
    rng = random.Random(7)
    delays = [backoff.delay(n, rng) for n in range(10)]
    for n, delay in enumerate(delays):
        base = min(8.0, 0.5 * 2**n)
        assert base * 0.8 <= delay <= base * 1.2
    assert len({round(d, 6) for d in delays[5:]}) > 1  # capped, yet not in lockstep
