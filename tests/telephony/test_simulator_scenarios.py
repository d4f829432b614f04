"""Scenarios against the PBX simulator over real AMI/TCP: the state model must match the
simulator's truth, and the domain events must tell the story."""

from __future__ import annotations

import asyncio

import pytest

from telephony.errors import CallConflict, PbxActionFailed, PbxUnreachable
from tests.services import wait_until
from tests.telephony.conftest import Lab
from wardline.domain import call_events as ev


def state_calls(lab: Lab) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for call in lab.session.state.calls.values():
        out[call.call_id] = {ch.phone or "trunk" for ch in call.channels.values()}
    return out


async def settled(lab: Lab) -> None:
    await wait_until(lambda: state_calls(lab) == lab.sim.calls(), timeout=3)


async def test_bed_to_bed_call(lab: Lab) -> None:
    call_id = lab.sim.dial("2001", "2002")
    await wait_until(lambda: lab.of(ev.CallRinging))
    ringing = lab.of(ev.CallRinging)[0]
    assert (ringing.call_id, ringing.caller_number, ringing.ringing_extension) == (
        call_id,
        "2001",
        "2002",
    )
    await wait_until(lambda: lab.session.state.phones["2002"].state == "ringing")
    lab.sim.answer("2002")
    await wait_until(lambda: lab.of(ev.CallAnswered))
    assert lab.session.snapshot_phase(call_id) == "talking"
    assert lab.session.state.phones["2001"].state == "in_use"
    lab.sim.hangup("2002")
    await wait_until(lambda: lab.of(ev.CallEnded))
    ended = lab.of(ev.CallEnded)[0]
    assert ended.disposition == "answered" and ended.extensions == ("2001", "2002")
    assert lab.session.state.calls == {} and lab.session.state.channels == {}
    await wait_until(lambda: lab.session.state.phones["2002"].state == "idle")


async def test_inactive_bed_cannot_call_out(lab: Lab) -> None:
    lab.sim.astdb["bed/2003/active"] = "0"
    lab.sim.dial("2003", "2001")
    await wait_until(lambda: lab.of(ev.CallEnded))
    assert lab.of(ev.CallEnded)[0].disposition == "failed"
    assert not lab.of(ev.CallRinging)


async def test_external_call_queued_answered_and_blind_transferred(lab: Lab) -> None:
    call_id = lab.sim.external_call(to="8000", caller="0612345678", name="Hélène Dupré")
    await wait_until(lambda: lab.session.state.snapshot().queues.get("switchboard") == (call_id,))
    ringing = lab.of(ev.CallRinging)[0]
    assert ringing.caller_name == "Hélène Dupré" and ringing.ringing_extension == "9000"
    lab.sim.answer("9000")
    await wait_until(lambda: lab.of(ev.CallAnswered))
    assert lab.of(ev.CallAnswered)[0].answered_by == "9000"
    await lab.session.actions.transfer_blind(call_id, "2003", operator="9000")
    await wait_until(lambda: lab.of(ev.CallTransferred))
    assert lab.of(ev.CallTransferred)[0].to_extension == "2003"
    await wait_until(
        lambda: (
            lab.session.state.phones.get("2003") is not None
            and lab.session.state.phones["2003"].state == "ringing"
        )
    )
    lab.sim.answer("2003")
    await settled(lab)
    assert lab.sim.calls() == {call_id: {"trunk", "2003"}}
    lab.sim.hangup("2003")
    await wait_until(lambda: lab.of(ev.CallEnded))
    assert lab.of(ev.CallEnded)[0].transferred


async def test_queued_call_redirected_by_operator(lab: Lab) -> None:
    call_id = lab.sim.external_call(to="9", caller="0611111111", name="Ana")
    await wait_until(
        lambda: (
            call_id in lab.session.state.calls
            and lab.session.state.calls[call_id].queue == "switchboard"
        )
    )
    await lab.session.actions.transfer_blind(call_id, "2002", operator="9000")
    await wait_until(lambda: lab.session.state.snapshot().queues.get("switchboard") == ())
    lab.sim.answer("2002")
    await settled(lab)
    assert lab.sim.calls() == {call_id: {"trunk", "2002"}}


async def test_attended_transfer_to_a_bed(lab: Lab) -> None:
    call_id = lab.sim.external_call(to="8000", caller="0612345678", name="Hélène Dupré")
    await wait_until(
        lambda: (
            lab.session.state.phones.get("9000") is not None
            and lab.session.state.phones["9000"].state == "ringing"
        )
    )
    lab.sim.answer("9000")
    await wait_until(lambda: lab.of(ev.CallAnswered))
    await lab.session.actions.transfer_attended(call_id, "2004", operator="9000")
    await wait_until(lambda: "2004" in lab.sim.calls().get(call_id, set()))
    lab.sim.answer("2004")
    await settled(lab)
    lab.sim.hangup("9000")  # the operator hangs up: the caller is put through
    await wait_until(lambda: lab.of(ev.CallTransferred))
    moved = lab.of(ev.CallTransferred)[0]
    assert (moved.kind, moved.to_extension, moved.by_extension) == ("attended", "2004", "9000")
    await settled(lab)
    assert lab.sim.calls() == {call_id: {"trunk", "2004"}}


async def test_park_and_pick_up(lab: Lab) -> None:
    call_id = lab.sim.dial("2001", "9000")
    lab.sim.answer("9000")
    await settled(lab)
    space = await lab.session.actions.park(call_id, operator="9000")
    assert space == "701" and lab.sim.parked() == {"701": call_id}
    assert lab.session.state.snapshot().parked == {"701": call_id}
    await lab.session.actions.pickup(space, operator="2900")
    await wait_until(
        lambda: (
            lab.session.state.phones.get("2900") is not None
            and lab.session.state.phones["2900"].state == "ringing"
        )
    )
    lab.sim.answer("2900")
    await wait_until(lambda: lab.of(ev.CallUnparked))
    assert lab.of(ev.CallUnparked)[0].by_extension == "2900"
    assert lab.sim.parked() == {} and lab.session.state.parked == {}
    await settled(lab)


async def test_call_a_bed_from_the_operator_phone(lab: Lab) -> None:
    call_id = await lab.session.actions.call_bed("9000", "2002")
    await wait_until(lambda: call_id in lab.session.state.calls)
    lab.sim.answer("9000")
    await wait_until(lambda: any(e.ringing_extension == "2002" for e in lab.of(ev.CallRinging)))
    lab.sim.answer("2002")
    await settled(lab)
    assert lab.sim.calls() == {call_id: {"9000", "2002"}}
    await lab.session.actions.hangup(call_id, operator="9000")
    await wait_until(lambda: lab.session.state.calls == {} and lab.sim.calls() == {})


async def test_two_operators_on_one_queued_call(lab: Lab) -> None:
    call_id = lab.sim.external_call(to="8000", caller="0612345678")
    await wait_until(
        lambda: (
            call_id in lab.session.state.calls
            and lab.session.state.calls[call_id].queue is not None
        )
    )
    results = await asyncio.gather(
        lab.session.actions.transfer_blind(call_id, "2001", operator="9000"),
        lab.session.actions.transfer_blind(call_id, "2002", operator="2900"),
        return_exceptions=True,
    )
    assert sum(r is None for r in results) == 1
    conflicts = [r for r in results if isinstance(r, CallConflict)]
    assert len(conflicts) == 1 and conflicts[0].error_id == "pbx.call_conflict"


async def test_connection_cut_mid_call_resyncs_to_the_truth(lab: Lab) -> None:
    first = lab.sim.dial("2001", "2002")
    lab.sim.answer("2002")
    queued = lab.sim.external_call(to="8000", caller="0600000000")
    await settled(lab)
    link = lab.session.link
    before = link.connections
    lab.sim.drop_clients()
    await wait_until(lambda: link.state != "up")
    with pytest.raises(PbxUnreachable):
        await lab.session.actions.hangup(first, operator="9000")
    lab.sim.hangup("2001")  # ends during the gap
    third = lab.sim.dial("2003", "2004")  # starts during the gap
    lab.sim.answer("9000")  # the queued call is answered during the gap
    await wait_until(lambda: link.state == "up" and link.connections > before, timeout=5)
    await settled(lab)
    assert set(lab.session.state.calls) == {queued, third}
    ended = [e for e in lab.of(ev.CallEnded) if e.call_id == first]
    assert len(ended) == 1 and ended[0].disposition == "answered"
    assert lab.session.state.snapshot().queues.get("switchboard", ()) == ()
    truth = {ext: s for ext, s in lab.sim.phone_states().items()}
    mapped = {
        "NOT_INUSE": "idle",
        "INUSE": "in_use",
        "RINGING": "ringing",
        "UNAVAILABLE": "unavailable",
        "ONHOLD": "on_hold",
    }
    assert {e: p.state for e, p in lab.session.state.phones.items()} == {
        e: mapped[s] for e, s in truth.items()
    }
    assert link.last_resync_at is not None


async def test_phone_states_follow_hold_and_registration(lab: Lab) -> None:
    lab.sim.dial("2001", "2002")
    lab.sim.answer("2002")
    lab.sim.hold("2001")
    await wait_until(lambda: lab.session.state.phones["2001"].state == "on_hold")
    call = next(iter(lab.session.state.calls.values()))
    assert call.phase() == "on_hold"
    lab.sim.hold("2001", on=False)
    await wait_until(lambda: lab.session.state.phones["2001"].state == "in_use")
    lab.sim.hangup("2001")
    lab.sim.unregister("2003")
    await wait_until(lambda: lab.session.state.phones["2003"].state == "unavailable")
    assert lab.session.state.phones["2003"].registered is False
    lab.sim.register("2003")
    await wait_until(lambda: lab.session.state.phones["2003"].state == "idle")
    changes = [e for e in lab.of(ev.PhoneStateChanged) if e.extension == "2003"]
    assert [(e.previous, e.state) for e in changes[-2:]] == [
        ("idle", "unavailable"),
        ("unavailable", "idle"),
    ]


async def test_queue_positions_and_abandon(lab: Lab) -> None:
    lab.sim.unregister("9000")  # nobody answers the switchboard
    first = lab.sim.external_call(to="8000", caller="0611111111")
    second = lab.sim.external_call(to="8000", caller="0622222222")
    await wait_until(
        lambda: lab.session.state.snapshot().queues.get("switchboard") == (first, second)
    )
    views = {v.call_id: v for v in lab.session.state.snapshot().calls}
    assert (views[first].queue_position, views[second].queue_position) == (1, 2)
    assert views[first].queued_since is not None
    lab.sim.hangup(first)
    await wait_until(lambda: lab.session.state.snapshot().queues.get("switchboard") == (second,))
    views = {v.call_id: v for v in lab.session.state.snapshot().calls}
    assert views[second].queue_position == 1 and first not in views
    abandoned = [e.abandoned for e in lab.of(ev.QueueChanged) if e.abandoned]
    assert abandoned == [first]
    assert [e.disposition for e in lab.of(ev.CallEnded)] == ["abandoned"]


async def test_actions_refuse_bad_extensions_and_unknown_calls(lab: Lab) -> None:
    from telephony.errors import PbxActionFailed, UnknownCall

    with pytest.raises(PbxActionFailed) as bad:
        await lab.session.actions.call_bed("9000", "2001\r\nAction: Hangup")
    assert bad.value.error_id == "pbx.action_failed"
    with pytest.raises(PbxActionFailed):
        await lab.session.actions.transfer_blind("x", "20 01", operator="9000")
    with pytest.raises(UnknownCall) as unknown:
        await lab.session.actions.hangup("1795347478.12", operator="9000")
    assert unknown.value.error_id == "pbx.unknown_call"
    assert lab.sim.calls() == {}


async def test_attended_transfer_abandoned_by_the_target(lab: Lab) -> None:
    call_id = lab.sim.external_call(to="8000", caller="0612345678")
    await wait_until(lambda: call_id in lab.session.state.calls)
    lab.sim.answer("9000")
    await wait_until(lambda: lab.of(ev.CallAnswered))
    await lab.session.actions.transfer_attended(call_id, "2004", operator="9000")
    await wait_until(lambda: "2004" in lab.sim.calls().get(call_id, set()))
    lab.sim.answer("2004")
    await settled(lab)
    lab.sim.hangup("2004")  # the bed declines after the consultation
    await wait_until(lambda: lab.sim.calls() == {call_id: {"trunk", "9000"}})
    await settled(lab)
    assert not lab.of(ev.CallTransferred)
    await wait_until(lambda: lab.session.state.phones["2004"].state == "idle")
    # the operator and the caller talk again, in one bridge
    legs = [c for c in lab.sim.pbx.channels.values() if c.linkedid == call_id]
    assert len({c.bridge for c in legs}) == 1 and legs[0].bridge is not None
    lab.sim.hangup("9000")
    await wait_until(lambda: lab.session.state.calls == {} and lab.sim.calls() == {})


async def test_astdb_writes_go_through_the_dialplan_and_refuse_other_keys(lab: Lab) -> None:
    actions = lab.session.actions
    await actions.write({"bed/2006/active": "1", "bed/2006/cidname": "DUPRÉ Hélène"}, ())
    assert await actions.tree("bed/2006") == {"active": "1", "cidname": "DUPRÉ Hélène"}
    assert await actions.delete("bed/2006", "cidname") is True
    assert await actions.delete("bed/2006", "cidname") is False
    with pytest.raises(PbxActionFailed):  # a key Wardline never writes: refused before sending
        await actions.put("bed/2006", "did", "0352123456")
    for name, fields in (
        ("DBPut", {"Family": "bed/2006", "Key": "active", "Val": "0"}),
        ("DBDel", {"Family": "bed/2006", "Key": "active"}),
        ("DBDelTree", {"Family": "bed/2006"}),
    ):
        with pytest.raises(PbxActionFailed, match="Permission denied"):
            await lab.session.link.send({"Action": name, **fields})
    # the dialplan checks every piece itself: a write it refuses changes nothing (the same
    # refusals as tests/telephony/test_real_pbx_ami.py on a real Asterisk)
    refused = {"Action": "Originate", "Channel": "Local/write@wl-astdb", "Context": "wl-astdb"}
    for variables in (
        ["WL_DB_NP=1,WL_DB_ND=0", 'WL_DB_P1="DB(bed/2006/active)=0,DB(secret/x)=1"'],
        ["WL_DB_NP=1,WL_DB_ND=0", 'WL_DB_P1="DB(bed/2006/cidname)=a(b,DB(secret/x)=1"'],
        ["WL_DB_NP=1,WL_DB_ND=0", 'WL_DB_P1="DB(bed/2006/cidname)=a[b],DB(bed/2006/dnd)=1"'],
        ["WL_DB_NP=0,WL_DB_ND=1", 'WL_DB_D1="bed/2006/active,secret/x"'],
        ["WL_DB_NP=2,WL_DB_ND=0", 'WL_DB_P1="DB(bed/2006/active)=0"'],
        ["WL_DB_NP=0,WL_DB_ND=0"],
        ["WL_DB_N=1", "WL_DB_OP1=put,WL_DB_K1=bed/2006/active,WL_DB_V1=0"],
    ):
        answers = await lab.session.link.send(
            {**refused, "Exten": "done", "Priority": "1", "Async": "true", "Variable": variables}
        )
        assert answers[-1].get("Response") == "Failure", variables
    assert lab.sim.astdb["bed/2006/active"] == "1"
    assert not lab.session.state.calls  # the writes' Local channels are no calls


async def test_demo_places_calls_and_ends_forgotten_ones(lab: Lab) -> None:
    from telephony.simulator.demo import run_demo

    task = asyncio.create_task(run_demo(lab.sim, every=0.05, patience=0.2, seed=3))
    try:
        await wait_until(lambda: len(lab.of(ev.CallEnded)) >= 2, timeout=5)
        assert lab.of(ev.CallQueued) or lab.of(ev.CallRinging)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
