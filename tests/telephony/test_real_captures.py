"""AMI recorded from a real Asterisk 22 running the generated configuration during the flows
of test_real_pbx_switchboard.py (``captures/real_*.ami``, recorded with
``WARDLINE_RECORD_CAPTURES=1``), replayed over TCP through the link into the call state, and
through the simulator's model: what the console is told about each flow."""

from __future__ import annotations

import pytest

from telephony.ami.frames import parse_stream
from telephony.calls.model import phone_of_channel
from telephony.calls.state import CallState
from telephony.config.dialplan import DIALPLAN
from tests.telephony.replay import capture
from tests.telephony.test_capture_replay import reference, replay, shape
from wardline.domain import call_events as ev
from wardline.domain.events import DomainEvent

REAL = {
    "did": "real_a_did_rings_its_bed_after_a01_and_the_switchboard_after_a03.ami",
    "blind": "real_queued_call_answered_from_the_console_then_blind_transferred_to_a_bed.ami",
    "attended": "real_attended_transfer_completed_and_cancelled.ami",
    "park": "real_park_then_pick_up.ami",
    "dial": "real_dial_a_bed_then_hang_up.ami",
    "restart": "real_a_pbx_restart_rebuilds_the_state.ami",
    "nurse": "real_a_bed_calling_its_nurse_station_shows_the_patient_name.ami",
}


def events_of(name: str) -> tuple[list[DomainEvent], CallState]:
    out: list[DomainEvent] = []
    state = CallState(out.append)
    for frame in parse_stream(capture(name)):
        if frame.kind == "event":
            state.on_event(frame)
    return out, state


def of(events: list[DomainEvent], kind: type[DomainEvent]) -> list[DomainEvent]:
    return [e for e in events if isinstance(e, kind)]


@pytest.mark.parametrize("name", sorted(REAL.values()))
async def test_real_capture_over_tcp_gives_the_events_of_the_state_model(name: str) -> None:
    events, _state, link = await replay(name, seed=7, max_piece=211)
    assert [shape(e) for e in events] == reference(name)
    assert link.stats["handler_failures"] == 0


@pytest.mark.parametrize("name", sorted(REAL.values()))
def test_no_astdb_write_and_no_trunk_is_a_call_or_a_phone(name: str) -> None:
    text = capture(name).decode()
    events, state = events_of(name)
    for frame in parse_stream(capture(name)):
        channel = frame.get("Channel")
        if channel.startswith("PJSIP/wardline-trunk"):
            assert phone_of_channel(channel) is None
    assert all(ext.isdigit() for ext in state.phones)
    for call in of(events, ev.CallEnded):
        assert all(ext.isdigit() for ext in call.extensions)  # type: ignore[attr-defined]
    if f"@{DIALPLAN.astdb_context}-" in text:
        assert not any(
            ch.name.startswith(f"Local/{DIALPLAN.astdb_write}@") for ch in state.channels.values()
        )


def test_real_did_call_rings_the_bed_then_goes_to_the_queue() -> None:
    events, _ = events_of(REAL["did"])
    ringing = of(events, ev.CallRinging)
    assert ringing[0].ringing_extension == "2001"  # type: ignore[attr-defined]
    assert ringing[0].caller_number == "0612345678"  # type: ignore[attr-defined]
    assert of(events, ev.CallAnswered)[0].answered_by == "2001"  # type: ignore[attr-defined]
    queued = of(events, ev.CallQueued)
    assert queued and queued[0].queue == "switchboard"  # type: ignore[attr-defined]


def test_real_blind_and_attended_transfers_name_their_target() -> None:
    blind, _ = events_of(REAL["blind"])
    assert [(e.kind, e.to_extension, e.by_extension) for e in of(blind, ev.CallTransferred)] == [  # type: ignore[attr-defined]
        ("blind", "2002", "9000")
    ]
    attended, state = events_of(REAL["attended"])
    done = of(attended, ev.CallTransferred)
    assert [(e.kind, e.to_extension) for e in done] == [("attended", "2003")]  # type: ignore[attr-defined]
    call = state.calls[done[0].call_id]
    assert "9000" not in call.present_extensions()
    assert {"2001", "2003"} <= set(call.present_extensions())


def test_real_park_and_pick_up() -> None:
    events, state = events_of(REAL["park"])
    parked = of(events, ev.CallParked)
    unparked = of(events, ev.CallUnparked)
    assert parked and unparked
    assert parked[0].space == unparked[0].space  # type: ignore[attr-defined]
    assert unparked[0].by_extension == "9000"  # type: ignore[attr-defined]
    assert not state.parked


def test_real_bed_call_to_its_nurse_station_carries_the_patient_name() -> None:
    events, _ = events_of(REAL["nurse"])
    ringing = [e for e in of(events, ev.CallRinging) if e.ringing_extension == "2900"]  # type: ignore[attr-defined]
    assert ringing and "DUPRÉ" in ringing[0].caller_name  # type: ignore[attr-defined]
    assert of(events, ev.CallAnswered)[0].answered_by == "2900"  # type: ignore[attr-defined]


def test_real_console_dial_is_answered_then_ended() -> None:
    events, _ = events_of(REAL["dial"])
    ended = of(events, ev.CallEnded)
    assert ended[0].called_extension == "2002"  # type: ignore[attr-defined]
    assert ended[0].disposition == "answered"  # type: ignore[attr-defined]
    assert ended[0].extensions == ("9000", "2002")  # type: ignore[attr-defined]
