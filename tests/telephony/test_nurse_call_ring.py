"""An open nurse call keeps its phones ringing, over real AMI to the PBX simulator (the example
hospital, its generated ring dialplan with a short Dial limit): every ring is replaced before
the Dial limit ends and no phone falls silent; a clear or an acknowledgement CANCELs every
ring Wardline placed and nothing else; answering at a phone reports the answer and stops the
others; a ring that could not be placed during a PBX outage is placed when the link is back."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from telephony.calls.session import PbxSession
from telephony.nurse_call_ring import NurseCallRinger
from telephony.simulator.model import Headers
from telephony.simulator.server import PbxSimulator
from tests.conftest import EXAMPLE_HOSPITAL
from tests.services import wait_until
from tests.telephony.conftest import make_link
from wardline.bus import EventBus
from wardline.domain.events import DomainEvent
from wardline.domain.nurse_call_events import (
    NurseCallAcknowledged,
    NurseCallAnsweredAtPhone,
    NurseCallCleared,
    NurseCallRingFailed,
    NurseCallRinging,
    NurseCallRingWanted,
)

BASE = {"call_id": 7, "bed_label": "CARDIO-101-A", "ward_code": "CARDIO"}


def wanted(phones: tuple[str, ...], level: int = 0, **over: object) -> NurseCallRingWanted:
    fields: dict[str, object] = {
        **BASE, "level": level, "phones": phones, "caller_name": "Appel ch. 101 lit A",
        "caller_number": "2990", "bed_extension": "2001", "names_from_bed": False,
        "connect_bed": False, "dial_limit_seconds": 2, "reissue_seconds": 1,
    }  # fmt: skip
    fields.update(over)
    return NurseCallRingWanted(**fields)  # type: ignore[arg-type]


@dataclass
class Ward:
    sim: PbxSimulator
    session: PbxSession
    ringer: NurseCallRinger
    bus: EventBus
    events: list[DomainEvent] = field(default_factory=list)
    pbx_events: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def of(self, kind: type[DomainEvent]) -> list[DomainEvent]:
        return [e for e in self.events if isinstance(e, kind)]

    def record(self, sim: PbxSimulator) -> None:
        def listen(name: str, headers: Headers, _privilege: str) -> None:
            self.pbx_events.append((name, dict(headers)))

        sim.pbx.listeners.append(listen)

    def phone_channels(self, phone: str) -> list[str]:
        prefix = f"PJSIP/{phone}-"
        return [ch.uniqueid for ch in self.sim.pbx.channels.values() if ch.name.startswith(prefix)]

    def ringing_timeline(self, phone: str) -> list[int]:
        """How many channels of ``phone`` ring after each PBX event (from its first ring)."""
        ringing: set[str] = set()
        counts: list[int] = []
        for name, h in self.pbx_events:
            if not h.get("Channel", "").startswith(f"PJSIP/{phone}-"):
                continue
            if name == "Newstate" and h.get("ChannelStateDesc") == "Ringing":
                ringing.add(h["Uniqueid"])
            elif name in {"Hangup", "Newstate"}:
                ringing.discard(h["Uniqueid"])
            else:
                continue
            counts.append(len(ringing))
        return counts


@pytest.fixture
async def ward() -> AsyncIterator[Ward]:
    sim = await PbxSimulator.from_inventory(EXAMPLE_HOSPITAL).start()
    bus = EventBus()
    events: list[DomainEvent] = []
    session = PbxSession(make_link(sim.port), bus.publish)
    ringer = NurseCallRinger(session.link, bus.publish)
    session.link.subscribe(ringer.on_frame)
    bus.subscribe(NurseCallRinger.EVENTS, ringer, name="ring")

    async def record(event: DomainEvent) -> None:
        events.append(event)

    bus.subscribe(DomainEvent, record, name="record")
    await bus.start()
    await session.start()
    await session.link.wait_synced(5)
    w = Ward(sim, session, ringer, bus, events)
    w.record(sim)
    try:
        yield w
    finally:
        await ringer.close()
        await session.stop()
        await bus.stop()
        await w.sim.stop()


async def test_an_open_call_rings_on_without_gap_and_a_clear_cancels_only_its_rings(
    ward: Ward,
) -> None:
    for bed in ("2001", "2002"):
        ward.sim.astdb[f"bed/{bed}/active"] = "1"
    other_call = ward.sim.dial("2002", "2001")  # a call of someone else, ringing too
    ward.bus.publish(wanted(("2900", "2901")))
    await wait_until(lambda: ward.sim.ringing("2900") is not None, 5)
    _, number, name = ward.sim.ringing("2900") or ("", "", "")
    assert (number, name) == ("2990", "Appel ch. 101 lit A")
    # three rounds of rings per phone: each placed before the previous reached its limit
    await wait_until(lambda: ward.ringer.placed >= 6, 10)
    await wait_until(lambda: len(ward.phone_channels("2900")) >= 1, 5)
    for phone in ("2900", "2901"):
        timeline = ward.ringing_timeline(phone)
        first = timeline.index(1)
        assert min(timeline[first:]) >= 1, (phone, timeline)  # never silent while open
    dial_ends = [h.get("DialStatus") for n, h in ward.pbx_events if n == "DialEnd"]
    assert "NOANSWER" not in dial_ends  # every ring was replaced before the Dial limit
    ringing_now = ward.phone_channels("2900") + ward.phone_channels("2901")
    assert ringing_now
    # the rings are not calls of the switchboard's picture (nor of the call history)
    assert [c.call_id for c in ward.session.state.snapshot().calls] == [other_call]

    ward.bus.publish(NurseCallCleared(**BASE, by="nina", response_seconds=12.0))
    await wait_until(lambda: not ward.phone_channels("2900") and not ward.phone_channels("2901"))
    cancelled = {
        h["DestUniqueid"]
        for n, h in ward.pbx_events
        if n == "DialEnd" and h.get("DialStatus") == "CANCEL"
    }
    assert set(ringing_now) <= cancelled  # each ring that was on got its CANCEL
    assert ward.sim.calls() == {other_call: {"2001", "2002"}}  # the other call untouched
    placed = ward.ringer.placed
    await asyncio.sleep(1.5)  # longer than the re-ring interval: nothing rings again
    assert ward.ringer.placed == placed and not ward.phone_channels("2900")
    assert ward.ringer.readiness()["open_calls"] == 0


async def test_answering_at_a_phone_reports_it_and_stops_the_other_rings(ward: Ward) -> None:
    ward.bus.publish(wanted(("2900", "2901"), dial_limit_seconds=30, reissue_seconds=25))
    await wait_until(lambda: ward.sim.ringing("2900") and ward.sim.ringing("2901"), 5)
    ward.sim.answer("2901")
    await wait_until(lambda: ward.of(NurseCallAnsweredAtPhone), 5)
    [answer] = ward.of(NurseCallAnsweredAtPhone)
    assert isinstance(answer, NurseCallAnsweredAtPhone)
    assert (answer.call_id, answer.extension) == (7, "2901")
    await wait_until(lambda: ward.sim.ringing("2900") is None, 5)
    assert len(ward.phone_channels("2901")) == 1  # the nurse who answered stays on the line
    # the bedside edge then records the acknowledgement: nothing more to stop
    ward.bus.publish(NurseCallAcknowledged(**BASE, by="phone:2901", response_seconds=3.0))
    await ward.bus.drain()
    assert len(ward.phone_channels("2901")) == 1


async def test_an_escalation_without_lower_levels_moves_the_ring(ward: Ward) -> None:
    ward.bus.publish(wanted(("2900",), dial_limit_seconds=30, reissue_seconds=25))
    await wait_until(lambda: ward.sim.ringing("2900") is not None, 5)
    ward.bus.publish(wanted(("2901",), level=1, dial_limit_seconds=30, reissue_seconds=25))
    await wait_until(lambda: ward.sim.ringing("2901") is not None, 5)
    await wait_until(lambda: ward.sim.ringing("2900") is None, 5)
    ward.bus.publish(wanted(("2901", "2910"), level=2, dial_limit_seconds=30, reissue_seconds=25))
    await wait_until(lambda: ward.sim.ringing("2910") is not None, 5)
    assert len(ward.phone_channels("2901")) == 1  # kept, not rung twice


async def test_a_clear_right_after_the_press_leaves_nothing_ringing(ward: Ward) -> None:
    """The clear may land before the Originate is sent, or before its channel exists: in
    both cases nothing rings afterwards (a late channel is hung up as it appears)."""
    for _ in range(5):
        ward.bus.publish(wanted(("2900",), dial_limit_seconds=30, reissue_seconds=25))
        ward.bus.publish(NurseCallCleared(**BASE, by="nina", response_seconds=1.0))
        await ward.bus.drain()
        await wait_until(lambda: not ward.sim.pbx.channels, 5)
    await asyncio.sleep(0.3)
    assert not ward.sim.pbx.channels and ward.ringer.readiness()["live_rings"] == 0


async def test_a_ring_that_failed_in_an_outage_is_placed_when_the_link_is_back(
    ward: Ward,
) -> None:
    port = ward.sim.port
    await ward.sim.stop()
    await wait_until(lambda: ward.session.link.state != "up", 5)
    ward.bus.publish(wanted(("2900",), dial_limit_seconds=30, reissue_seconds=25))
    await wait_until(lambda: ward.of(NurseCallRingFailed), 5)
    [failed] = ward.of(NurseCallRingFailed)
    assert isinstance(failed, NurseCallRingFailed)
    assert (failed.phones, failed.reason) == (("2900",), "pbx_unreachable")
    assert ward.ringer.ring_state(7) == "failed:pbx_unreachable"
    ward.sim = await PbxSimulator.from_inventory(EXAMPLE_HOSPITAL).start(port=port)
    await wait_until(lambda: ward.sim.ringing("2900") is not None, 10)
    await wait_until(lambda: ward.of(NurseCallRinging), 5)
    assert ward.ringer.ring_state(7) == "ringing"
    ward.bus.publish(NurseCallCleared(**BASE, by="nina", response_seconds=30.0))
    await wait_until(lambda: not ward.sim.pbx.channels, 5)


async def test_a_phone_that_cannot_ring_is_reported(ward: Ward) -> None:
    ward.sim.pbx.phones["2901"].registered = False
    ward.bus.publish(wanted(("2901",), dial_limit_seconds=30, reissue_seconds=25))
    await wait_until(lambda: ward.of(NurseCallRingFailed), 5)
    [failed] = ward.of(NurseCallRingFailed)
    assert isinstance(failed, NurseCallRingFailed)
    assert (failed.phones, failed.reason) == (("2901",), "phone_unavailable")


async def test_the_simulated_dial_limit_ends_a_ring_as_asterisk_does(ward: Ward) -> None:
    """A ring left alone: at WL_NC_LIMIT the Dial gives up (DialEnd NOANSWER), the phone's
    channel and then the Local channel hang up (the same sequence the real-PBX test sees)."""
    await ward.session.link.send(
        {
            "Action": "Originate", "Channel": "Local/2900@wl-nurse-ring",
            "Context": "wl-nurse-answered", "Exten": "s", "Priority": "1", "Async": "true",
            "ChannelId": "limit-test-1", "CallerID": "Appel ch. 1 lit A <2990>",
            "Variable": ["WL_NC_ID=9,WL_NC_STATION=2900", "WL_NC_LIMIT=1"],
        },
        as_list=False,
    )  # fmt: skip
    await wait_until(lambda: ward.sim.ringing("2900") is not None, 5)
    phone = ward.phone_channels("2900")[0]
    await wait_until(lambda: not ward.sim.pbx.channels, 5)
    sequence = [
        (name, h.get("DialStatus", ""))
        for name, h in ward.pbx_events
        if (name == "DialEnd" or (name == "Hangup" and h["Uniqueid"] in (phone, "limit-test-1")))
    ]
    assert sequence == [("DialEnd", "NOANSWER"), ("Hangup", ""), ("Hangup", "")]
    hangups = [h["Uniqueid"] for n, h in ward.pbx_events if n == "Hangup"]
    assert hangups == [phone, "limit-test-1"]


async def test_a_ring_asked_for_after_the_acknowledgement_is_ignored(ward: Ward) -> None:
    """An escalation published just after the acknowledgement (the two raced) rings nothing."""
    ward.bus.publish(NurseCallAcknowledged(**BASE, by="nina", response_seconds=5.0))
    ward.bus.publish(wanted(("2900", "2901"), level=1))
    await ward.bus.drain()
    await asyncio.sleep(0.2)
    assert ward.ringer.placed == 0 and not ward.sim.pbx.channels


async def test_an_acknowledgement_cancels_every_ring(ward: Ward) -> None:
    ward.bus.publish(wanted(("2900", "2901", "2910"), dial_limit_seconds=30, reissue_seconds=25))
    await wait_until(lambda: all(ward.sim.ringing(p) for p in ("2900", "2901", "2910")), 5)
    ringing = {p: ward.phone_channels(p)[0] for p in ("2900", "2901", "2910")}
    ward.bus.publish(NurseCallAcknowledged(**BASE, by="opal", response_seconds=9.0))
    await wait_until(lambda: not ward.sim.pbx.channels, 5)
    cancelled = {
        h["DestUniqueid"]
        for n, h in ward.pbx_events
        if n == "DialEnd" and h.get("DialStatus") == "CANCEL"
    }
    assert set(ringing.values()) <= cancelled


async def test_rings_left_by_a_previous_run_are_adopted_and_stopped_with_their_call(
    ward: Ward, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Wardline restarts while two calls ring: the new run finds the rings on the PBX; the
    call that is cleared stops its old ring, the call nobody asks to ring again is hung up
    after the grace period."""
    monkeypatch.setattr("telephony.nurse_call_ring.ORPHAN_GRACE", 0.5)
    ward.bus.publish(wanted(("2900",), dial_limit_seconds=30, reissue_seconds=25))
    ward.bus.publish(
        dataclasses.replace(wanted(("2901",), dial_limit_seconds=30, reissue_seconds=25), call_id=8)
    )
    await wait_until(lambda: ward.sim.ringing("2900") and ward.sim.ringing("2901"), 5)
    await ward.ringer.close()  # the old run ends without hanging anything up
    await ward.session.stop()

    bus = EventBus()
    session = PbxSession(make_link(ward.sim.port), bus.publish)
    ringer = NurseCallRinger(session.link, bus.publish)
    session.link.subscribe(ringer.on_frame)
    bus.subscribe(NurseCallRinger.EVENTS, ringer, name="ring")
    await bus.start()
    await session.start()
    try:
        await wait_until(lambda: len(ringer.book.legs) == 2, 5)
        bus.publish(NurseCallCleared(**BASE, by="nina", response_seconds=3.0))
        await wait_until(lambda: ward.sim.ringing("2900") is None, 5)
        assert ward.sim.ringing("2901") is not None  # call 8 is not cleared (yet)
        await wait_until(lambda: ward.sim.ringing("2901") is None, 5)  # nobody wanted it
        assert not ward.sim.pbx.channels
    finally:
        await ringer.close()
        await session.stop()
        await bus.stop()
