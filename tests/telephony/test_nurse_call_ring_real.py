"""The nurse-call ring on a real Asterisk 22 loaded with the generated configuration, stations
played by sipp phones (opt-in: marker ``asterisk``, ``WARDLINE_TEST_ASTERISK``).

The ring's Dial limit is the ward policy's (4 s here, re-placed every 3 s) instead of minutes.
What is asserted is what the PBX reports over AMI: every ring replaced before its limit and no
phone silent while the call is open; on a clear every ringing channel CANCELled (DialEnd
CANCEL, the phone's channel gone, the phone's INVITE answered 487 by the sipp scenario) before
a deadline of 1 s; answering at a station acknowledges; a PBX restart during an open call rings
again within 5 s of the link's return."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from telephony.ami.frames import AmiMessage
from telephony.calls.session import PbxSession
from telephony.nurse_call_ring import NurseCallRinger
from tests.services import wait_until
from tests.telephony.conftest import make_link
from tests.telephony.real_pbx import AMI_SECRET, RealPbx, SipPhone
from wardline.bus import EventBus
from wardline.domain.call_events import PbxConnectionChanged
from wardline.domain.events import DomainEvent
from wardline.domain.nurse_call_events import (
    NurseCallAcknowledged,
    NurseCallAnsweredAtPhone,
    NurseCallCleared,
    NurseCallRingWanted,
)

pytestmark = pytest.mark.asterisk
BASE = {"call_id": 41, "bed_label": "CARDIO-101-A", "ward_code": "CARDIO"}


def wanted(phones: tuple[str, ...], **over: object) -> NurseCallRingWanted:
    fields: dict[str, object] = {
        **BASE, "level": 0, "phones": phones, "caller_name": "Appel ch. 101 lit A",
        "caller_number": "2990", "bed_extension": "2001", "names_from_bed": False,
        "connect_bed": False, "dial_limit_seconds": 4, "reissue_seconds": 3,
    }  # fmt: skip
    fields.update(over)
    return NurseCallRingWanted(**fields)  # type: ignore[arg-type]


@dataclass
class Station:
    pbx: RealPbx
    session: PbxSession
    ringer: NurseCallRinger
    bus: EventBus
    events: list[DomainEvent] = field(default_factory=list)
    frames: list[tuple[float, AmiMessage]] = field(default_factory=list)

    def of(self, kind: type[DomainEvent]) -> list[DomainEvent]:
        return [e for e in self.events if isinstance(e, kind)]

    def phone_frames(self, phone: str) -> list[tuple[float, AmiMessage]]:
        prefix = f"PJSIP/{phone}-"
        return [(t, f) for t, f in self.frames if f.get("Channel").startswith(prefix)]

    def ringing_now(self, phone: str) -> set[str]:
        ringing: set[str] = set()
        for _t, f in self.phone_frames(phone):
            if f.name == "Newstate" and f.get("ChannelStateDesc") == "Ringing":
                ringing.add(f.get("Uniqueid"))
            elif f.name in {"Hangup", "Newstate"}:
                ringing.discard(f.get("Uniqueid"))
        return ringing

    def timeline(self, phone: str) -> list[int]:
        ringing: set[str] = set()
        counts: list[int] = []
        for _t, f in self.phone_frames(phone):
            if f.name == "Newstate" and f.get("ChannelStateDesc") == "Ringing":
                ringing.add(f.get("Uniqueid"))
            elif f.name in {"Hangup", "Newstate"}:
                ringing.discard(f.get("Uniqueid"))
            else:
                continue
            counts.append(len(ringing))
        return counts


@pytest.fixture
async def station(real_pbx: RealPbx) -> AsyncIterator[Station]:
    bus = EventBus()
    link = make_link(real_pbx.ami_port, secret=AMI_SECRET)
    session = PbxSession(link, bus.publish)
    ringer = NurseCallRinger(link, bus.publish)
    st = Station(real_pbx, session, ringer, bus)
    loop = asyncio.get_running_loop()
    link.subscribe(lambda frame: st.frames.append((loop.time(), frame)))
    link.subscribe(ringer.on_frame)
    bus.subscribe(NurseCallRinger.EVENTS, ringer, name="ring")

    async def record(event: DomainEvent) -> None:
        st.events.append(event)

    bus.subscribe(DomainEvent, record, name="record")
    await bus.start()
    await session.start()
    await link.wait_synced(10)
    try:
        yield st
    finally:
        await ringer.close()
        await session.stop()
        await bus.stop()


@pytest.mark.parametrize("taken", ["cleared", "acknowledged"])
async def test_rings_on_without_gap_and_a_clear_cancels_every_ring_within_a_second(
    station: Station, taken: str
) -> None:
    phones = [
        await SipPhone(station.pbx, ext, answers=False).register() for ext in ("2900", "2901")
    ]
    try:
        station.bus.publish(wanted(("2900", "2901")))
        await wait_until(lambda: station.ringing_now("2900") and station.ringing_now("2901"), 10)
        shown = {
            (f.get("CallerIDName"), f.get("DestConnectedLineName"))
            for _t, f in station.frames
            if f.name == "DialBegin" and f.get("DestChannel").startswith("PJSIP/2900-")
        }
        assert shown == {("Appel ch. 101 lit A", "Appel ch. 101 lit A")}, shown
        await wait_until(lambda: station.ringer.placed >= 8, 20)  # 4 rounds: 12 s of ringing
        for phone in ("2900", "2901"):
            timeline = station.timeline(phone)
            assert min(timeline[timeline.index(1) :]) >= 1, (phone, timeline)
        ends = [
            (f.get("DialStatus"), f.get("Channel")[:20], f.get("DestChannel")[:20])
            for _t, f in station.frames
            if f.name == "DialEnd"
        ]
        # the phones' rings were replaced before the Dial limit every time
        assert not [e for e in ends if e[0] == "NOANSWER" and e[2].startswith("PJSIP/")], ends
        ringing = station.ringing_now("2900") | station.ringing_now("2901")
        assert ringing

        loop = asyncio.get_running_loop()
        cleared_at = loop.time()
        if taken == "cleared":
            station.bus.publish(NurseCallCleared(**BASE, by="nina", response_seconds=20.0))
        else:
            station.bus.publish(NurseCallAcknowledged(**BASE, by="opal", response_seconds=20.0))
        await wait_until(lambda: not station.ringing_now("2900") | station.ringing_now("2901"), 5)
        hangups = {f.get("Uniqueid"): t for t, f in station.frames if f.name == "Hangup"}
        assert set(ringing) <= set(hangups)
        stopped_after = max(hangups[u] for u in ringing) - cleared_at
        assert stopped_after < 1.0, stopped_after
        cancelled = {
            f.get("DestUniqueid")
            for _t, f in station.frames
            if f.name == "DialEnd" and f.get("DialStatus") == "CANCEL"
        }
        assert set(ringing) <= cancelled
        channels = await asyncio.to_thread(station.pbx.cli, "core show channels concise")
        assert "PJSIP/2900" not in channels and "PJSIP/2901" not in channels
    finally:
        for phone in phones:
            await phone.stop()


async def test_answering_at_the_station_acknowledges_and_stops_the_others(
    station: Station,
) -> None:
    answering = await SipPhone(station.pbx, "2900", answers=True).register()
    ringing = await SipPhone(station.pbx, "2901", answers=False).register()
    try:
        station.bus.publish(wanted(("2900", "2901"), dial_limit_seconds=30, reissue_seconds=25))
        await wait_until(lambda: station.of(NurseCallAnsweredAtPhone), 15)
        [answer] = station.of(NurseCallAnsweredAtPhone)
        assert isinstance(answer, NurseCallAnsweredAtPhone)
        assert (answer.call_id, answer.extension) == (41, "2900")
        await wait_until(lambda: not station.ringing_now("2901"), 5)
        assert station.ringer.readiness()["open_calls"] == 0
    finally:
        await answering.stop()
        await ringing.stop()


async def test_a_pbx_restart_during_an_open_call_rings_again_within_5_s_of_the_link(
    station: Station,
) -> None:
    phone = await SipPhone(station.pbx, "2900", answers=False).register()
    try:
        station.bus.publish(wanted(("2900",), dial_limit_seconds=30, reissue_seconds=25))
        await wait_until(lambda: station.ringing_now("2900"), 10)
        await station.pbx.stop()
        await wait_until(lambda: station.session.link.state != "up", 10)
        before = len(station.frames)
        await station.pbx.start()  # returns once Asterisk is fully booted
        await station.session.link.wait_synced(30)
        loop = asyncio.get_running_loop()
        back_at = loop.time()
        ups = [e for e in station.events if isinstance(e, PbxConnectionChanged)]
        assert ups[-1].state == "up"

        def rang_again() -> bool:
            return any(
                f.name == "Newstate" and f.get("ChannelStateDesc") == "Ringing"
                and f.get("Channel").startswith("PJSIP/2900-")
                for _t, f in station.frames[before:]
            )  # fmt: skip

        await wait_until(rang_again, 10)
        assert loop.time() - back_at < 5.0
        station.bus.publish(NurseCallCleared(**BASE, by="nina", response_seconds=40.0))
        await wait_until(lambda: not station.ringing_now("2900"), 5)
    finally:
        await phone.stop()


async def test_the_dial_limit_and_the_patient_name_where_the_ward_allows_it(
    station: Station,
) -> None:
    """The dialplan alone: the bed line's caller name (AstDB) shown when WL_NC_NAMES=bed, and
    at WL_NC_LIMIT the Dial gives up - the sequence the simulator reproduces."""
    phone = await SipPhone(station.pbx, "2900", answers=False).register()
    try:
        await asyncio.to_thread(station.pbx.cli, 'database put bed 2001/cidname "Jeanne Test"')
        await station.session.link.send(
            {
                "Action": "Originate", "Channel": "Local/2900@wl-nurse-ring",
                "Context": "wl-nurse-answered", "Exten": "s", "Priority": "1", "Async": "true",
                "ChannelId": "limit-test-1", "CallerID": "Appel ch. 101 lit A <2990>",
                "Variable": ["WL_NC_ID=9,WL_NC_STATION=2900,WL_NC_BED=2001", "WL_NC_NAMES=bed",
                             "WL_NC_CALLER=Appel ch. 101 lit A", "WL_NC_LIMIT=2"],
            },
            as_list=False,
        )  # fmt: skip
        await wait_until(lambda: station.ringing_now("2900"), 10)
        [uid] = station.ringing_now("2900")
        shown = [
            f.get("CallerIDName")
            for _t, f in station.frames
            if f.name == "DialBegin" and f.get("DestChannel").startswith("PJSIP/2900-")
        ]
        assert shown == ["Jeanne Test"]

        def local_gone() -> bool:
            return any(
                f.name == "Hangup" and f.get("Uniqueid") == "limit-test-1"
                for _t, f in station.frames
            )

        await wait_until(local_gone, 10)
        sequence = [
            (f.name, f.get("DialStatus"))
            for _t, f in station.frames
            if (f.name == "DialEnd" and f.get("DestChannel").startswith("PJSIP/2900-"))
            or (f.name == "Hangup" and f.get("Uniqueid") in (uid, "limit-test-1"))
        ]
        assert sequence == [("DialEnd", "NOANSWER"), ("Hangup", ""), ("Hangup", "")]
    finally:
        await phone.stop()


async def test_answering_connects_the_nurse_to_the_bed_when_the_ward_says_so(
    station: Station,
) -> None:
    nurse = await SipPhone(station.pbx, "2900", answers=True).register()
    bed = await SipPhone(station.pbx, "2001", answers=False).register()
    try:
        station.bus.publish(
            wanted(("2900",), connect_bed=True, dial_limit_seconds=30, reissue_seconds=25)
        )
        await wait_until(lambda: station.of(NurseCallAnsweredAtPhone), 15)
        await wait_until(lambda: station.ringing_now("2001"), 10)  # the bed phone rings
    finally:
        await nurse.stop()
        await bed.stop()
