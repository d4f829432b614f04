"""Real Asterisk 22 captures replayed over a real TCP socket, cut at random byte boundaries,
through the whole pipeline (panoramisk Manager + whole-message protocol + state model)."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from telephony.ami.frames import parse_stream
from telephony.ami.link import AmiLink, Backoff
from telephony.calls.state import CallState
from telephony.errors import PbxLoginRefused
from tests.telephony.replay import Replay, capture
from wardline.domain import call_events as ev
from wardline.domain.events import DomainEvent

STATEFUL = [
    "02_originate_local.ami",
    "03_bed_to_bed_call.ami",
    "05_transfer_or_redirect.ami",
    "06_queue_call.ami",
    "07_park.ami",
    "09_astdb_bed_check.ami",
]


def shape(event: DomainEvent) -> tuple[str, dict[str, Any]]:
    fields = {
        k: (v is not None if isinstance(v, datetime) or k.endswith("_at") else v)
        for k, v in dataclasses.asdict(event).items()
        if k != "at"
    }
    return event.name, fields


def reference(name: str) -> list[tuple[str, dict[str, Any]]]:
    """The same capture, decoded at once and fed to the state model without a socket."""
    out: list[DomainEvent] = []
    state = CallState(out.append)
    for frame in parse_stream(capture(name)):
        if frame.kind == "event":
            state.on_event(frame)
    return [shape(e) for e in out]


async def replay(
    name: str, seed: int, max_piece: int
) -> tuple[list[DomainEvent], CallState, AmiLink]:
    server = await Replay(capture(name), seed=seed, max_piece=max_piece).start()
    events: list[DomainEvent] = []
    state = CallState(events.append)
    link = AmiLink(
        host="127.0.0.1",
        port=server.port,
        username="wardline",
        secret="x",
        backoff=Backoff(initial=10),
    )
    link.subscribe(state.on_event)
    try:
        await link.start()
        await link.wait_synced(5)
        # a generous bound: byte-by-byte pieces take long on a loaded machine (not a timing)
        await asyncio.wait_for(server.sent.wait(), 120)
        for _ in range(200):
            await asyncio.sleep(0.01)
            if link._protocol is not None and link._protocol.decoder.pending() == 0:
                break
        await asyncio.sleep(0.05)
        return events, state, link
    finally:
        await link.stop()
        await server.close()


@pytest.mark.parametrize("name", STATEFUL)
async def test_replay_over_tcp_ends_with_no_call_left(name: str) -> None:
    events, state, link = await replay(name, seed=1, max_piece=97)
    assert [shape(e) for e in events] == reference(name)
    assert state.calls == {} and state.channels == {} and state.parked == {}
    assert all(not q for q in state.queues.values())
    assert link.stats["handler_failures"] == 0


@settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(0, 2**16), max_piece=st.integers(1, 3000))
async def test_random_chunking_over_tcp_gives_the_same_events(seed: int, max_piece: int) -> None:
    for name in ("05_transfer_or_redirect.ami", "06_queue_call.ami", "07_park.ami"):
        events, _, _ = await replay(name, seed, max_piece)
        assert [shape(e) for e in events] == reference(name)


async def test_bed_to_bed_call_is_seen_ringing_answered_and_ended() -> None:
    events, _, _ = await replay("03_bed_to_bed_call.ami", seed=2, max_piece=50)
    ringing = [e for e in events if isinstance(e, ev.CallRinging)]
    assert (ringing[0].caller_number, ringing[0].called_extension) == ("2001", "2002")
    assert ringing[0].caller_name == "Ward A Bed 1"
    ended = [e for e in events if isinstance(e, ev.CallEnded)]
    assert [e.disposition for e in ended] == ["answered", "answered", "failed"]
    assert ended[0].extensions == ("2001", "2002")
    answered = [e for e in events if isinstance(e, ev.CallAnswered)]
    assert answered[0].answered_by == "2002"


async def test_transfers_park_and_queue_from_real_traffic() -> None:
    events, _, _ = await replay("05_transfer_or_redirect.ami", seed=3, max_piece=400)
    kinds = [(e.kind, e.to_extension) for e in events if isinstance(e, ev.CallTransferred)]
    assert kinds == [("blind", "2004"), ("attended", "2006")]
    events, _, _ = await replay("07_park.ami", seed=4, max_piece=400)
    parked = [e for e in events if isinstance(e, ev.CallParked | ev.CallUnparked)]
    assert [(type(e).__name__, e.space) for e in parked] == [
        ("CallParked", "701"),
        ("CallUnparked", "701"),
        ("CallParked", "701"),
        ("CallUnparked", "701"),
    ]
    assert [getattr(e, "timed_out", None) for e in parked[1::2]] == [False, True]
    events, _, _ = await replay("06_queue_call.ami", seed=5, max_piece=400)
    changes = [e for e in events if isinstance(e, ev.QueueChanged)]
    assert changes[0].waiting == ("1795347639.28",)
    assert [e.abandoned for e in changes if e.abandoned] == ["1795347650.30"]
    ended = {e.call_id: e.disposition for e in events if isinstance(e, ev.CallEnded)}
    assert ended["1795347650.30"] == "abandoned"


async def test_login_failure_is_a_typed_error() -> None:
    server = await Replay(capture("01b_login_failure.ami"), close_after=True).start()
    link = AmiLink(
        host="127.0.0.1",
        port=server.port,
        username="wardline",
        secret="bad",
        backoff=Backoff(initial=10),
    )
    try:
        await link.start()
        with pytest.raises(PbxLoginRefused):
            await link.wait_synced(5)
        assert link.state == "down"
    finally:
        await link.stop()
        await server.close()


async def test_shutdown_closes_the_session() -> None:
    server = await Replay(capture("10_reload_and_restart.ami"), close_after=True).start()
    link = AmiLink(
        host="127.0.0.1",
        port=server.port,
        username="wardline",
        secret="x",
        backoff=Backoff(initial=10),
    )
    states: list[str] = []
    link.on_state = states.append
    try:
        await link.start()
        await link.wait_synced(5)
        for _ in range(200):
            if states[-1] == "down":
                break
            await asyncio.sleep(0.01)
        assert states[-1] == "down"
    finally:
        await link.stop()
        await server.close()
