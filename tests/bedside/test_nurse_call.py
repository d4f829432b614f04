"""Nurse call end to end: a terminal's press over MQTT, escalation on a controllable clock,
acknowledgement by a nurse, clearing by a nurse's badge at the bed."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from bedside.contract import parse_notice
from bedside.models import NurseCall
from bedside.nurse_call import NurseCalls, badge_hash, due_level
from bedside.nurse_call_report import response_report
from bedside.topics import Topics
from tests.bedside.harness import Service, running_service, terminal
from tests.bedside.ward import add_nurse, seed_ward
from tests.services import wait_until
from wardline.db.engine import Database
from wardline.db.models import AuditEvent, InventoryMeta
from wardline.domain.errors import PermissionDenied
from wardline.domain.nurse_call_events import (
    NurseCallAcknowledged,
    NurseCallAnsweredAtPhone,
    NurseCallCleared,
    NurseCallEscalated,
    NurseCallRaised,
    NurseCallRingWanted,
)
from wardline.domain.nurse_call_policy import POLICY_META_KEY

ESCALATION = [
    {"level": "neighbour_ward", "after_seconds": 300, "ward": "N2"},
    {"level": "charge_nurse", "after_seconds": 120, "extension": "2100"},
]


def test_badge_hash_and_due_level() -> None:
    assert badge_hash("04AB12CD") == badge_hash(" 04AB12CD ") != badge_hash("04AB12CE")
    assert len(badge_hash("x")) == 64
    assert due_level(ESCALATION, 119) is None
    assert due_level(ESCALATION, 120) == (1, ESCALATION[1])
    assert due_level(ESCALATION, 900) == (2, ESCALATION[0])


@pytest.fixture
async def service(
    db: Database, shared_broker: tuple[str, int], topics: Topics
) -> AsyncIterator[Service]:
    await seed_ward(
        db, "N1", [("N1-1-A", "1", "3101", "NA"), ("N1-2-A", "2", "3102", "NB")],
        station="2000", escalation=ESCALATION,
    )  # fmt: skip
    await seed_ward(db, "N2", [("N2-1-A", "1", "3201", "NC")], station="2200")
    await add_nurse(db, "nina", "BADGE-NINA")
    await add_nurse(db, "adam", "BADGE-ADAM", roles="admin")
    async with running_service(db, topics, *shared_broker) as svc:
        yield svc


def press(press_id: str) -> bytes:
    return json.dumps(
        {"v": 1, "type": "nurse_call", "source": "pull_cord", "press_id": press_id}
    ).encode()


def states(notices: list[bytes]) -> list[str]:
    return [getattr(parse_notice(n), "state", "?") for n in notices]


async def test_raise_escalate_acknowledge_clear(
    service: Service, shared_broker: tuple[str, int], topics: Topics
) -> None:
    host, port = shared_broker
    async with (
        terminal(host, port, topics, "NA") as bed_a,
        terminal(host, port, topics, "NB") as bed_b,
        terminal(host, port, topics, "NC") as other_ward,
    ):
        await bed_a.send(press("p-1"))
        await wait_until(lambda: "received" in states(bed_b.notices))
        calls = await service.calls.open_calls("N1")
        assert [(c.bed_label, c.state, c.level, c.source) for c in calls] == [
            ("N1-1-A", "open", 0, "pull_cord")
        ]
        call_id = calls[0].call_id
        await bed_a.send(press("p-1"))  # the same press again (QoS 1 redelivery)
        await bed_a.send(press("p-2"))  # pressing again while the call is open
        await wait_until(lambda: service.gateway.handled >= 3)
        await service.bus.drain()
        raised = [e for e in service.events if isinstance(e, NurseCallRaised)]
        assert [(e.call_id, e.ward_code, e.nurse_station_extension) for e in raised] == [
            (call_id, "N1", "2000")
        ]
        assert len(await service.calls.open_calls("N1")) == 1
        assert "received" in states(bed_a.notices)
        seen = {t.terminal_id: t.last_seen for t in await service.registry.terminals()}
        assert seen["NA"] == service.clock.now and seen["NB"] is None

        service.clock.advance(119)
        assert await service.calls.escalate_due() == []
        service.clock.advance(1)
        [first] = await service.calls.escalate_due()
        assert first.level == 1
        service.clock.advance(180)
        [second] = await service.calls.escalate_due()
        assert second.level == 2
        await service.bus.drain()
        escalated = [e for e in service.events if isinstance(e, NurseCallEscalated)]
        assert [(e.level, e.level_name, e.extension, e.target_ward_code) for e in escalated] == [
            (1, "charge_nurse", "2100", None),
            (2, "neighbour_ward", "2200", "N2"),
        ]
        await wait_until(lambda: "escalated" in states(other_ward.notices))

        with pytest.raises(PermissionDenied):
            await service.calls.acknowledge(call_id, "adam")
        service.clock.advance(15)
        acked = await service.calls.acknowledge(call_id, "nina")
        assert (acked.state, acked.acknowledged_by, acked.response_seconds) == (
            "acknowledged", "nina", 315.0,
        )  # fmt: skip
        service.clock.advance(3600)
        assert await service.calls.escalate_due() == []
        await wait_until(lambda: "acknowledged" in states(bed_a.notices))

        await bed_a.send(b'{"v":1,"type":"badge_tap","badge_id":"BADGE-ADAM"}')
        await bed_b.send(b'{"v":1,"type":"badge_tap","badge_id":"BADGE-NINA"}')  # other bed
        await wait_until(lambda: service.gateway.handled >= 5)
        assert [c.state for c in await service.calls.open_calls("N1")] == ["acknowledged"]
        await bed_a.send(b'{"v":1,"type":"badge_tap","badge_id":"BADGE-NINA"}')
        await wait_until(lambda: "cleared" in states(bed_a.notices))
        assert await service.calls.open_calls("N1") == []
        await service.bus.drain()
        assert [e.by for e in service.events if isinstance(e, NurseCallAcknowledged)] == ["nina"]
        [cleared] = [e for e in service.events if isinstance(e, NurseCallCleared)]
        assert (cleared.by, cleared.response_seconds) == ("nina", 315.0)
        async with service.db.session() as s:
            row = await s.get(NurseCall, call_id)
            assert row is not None and row.cleared_by == "nina" and row.level == 2
            assert row.escalated_at is not None and row.cleared_at is not None
            assert [e["level"] for e in row.escalations] == [1, 2]
        day = timedelta(days=1)
        report = await response_report(
            service.db, "N1", service.clock.now - day, service.clock.now + day
        )
        assert (report.calls, report.answered, report.escalated) == (1, 1, 1)
        assert report.median_seconds == report.longest_seconds == 315.0
        empty = await response_report(service.db, "N2", service.clock.now - day, service.clock.now)
        assert (empty.calls, empty.median_seconds) == (0, None)


async def test_unknown_terminal_and_bad_payload_change_nothing(
    service: Service, shared_broker: tuple[str, int], topics: Topics
) -> None:
    host, port = shared_broker
    async with (
        terminal(host, port, topics, "NA") as known,
        terminal(host, port, topics, "GHOST") as ghost,
    ):
        await ghost.send(press("g-1"))
        await known.send(b'{"v":1,"type":"nurse_call","source":"elbow","press_id":"x"}')
        await known.send(b"\x00garbage")
        await wait_until(lambda: service.gateway.refused["mqtt.payload_not_json"] == 1)
        await wait_until(lambda: len(known.notices) >= 1)
        notices = [parse_notice(n) for n in known.notices]
        # One notice per terminal per interval: the second refusal is counted, not answered.
        assert [getattr(n, "error_id", None) for n in notices] == ["mqtt.payload_schema"]
        await wait_until(lambda: service.gateway.unknown_terminal >= 1)
        assert ghost.notices == []
        assert await service.calls.open_calls("N1") == []
        presence = {t.terminal_id: t for t in await service.registry.terminals()}
        assert "GHOST" not in presence and presence["NA"].last_seen is None
        assert service.gateway.refused["mqtt.payload_schema"] == 1
        await service.bus.drain()
        assert not [e for e in service.events if isinstance(e, NurseCallRaised)]


async def test_escalation_loop_runs_on_the_injected_clock(service: Service) -> None:
    ticks: list[float] = []
    parked = asyncio.Event()

    async def sleep(seconds: float) -> None:
        ticks.append(seconds)
        if len(ticks) >= 12:  # 12 ticks of 30 s: 6 minutes of ward time, then park
            parked.set()
            await asyncio.Event().wait()
        service.clock.advance(seconds)

    calls = NurseCalls(
        db=service.db, bus=service.bus, link=service.link, topics=service.topics,
        clock=service.clock, sleep=sleep,
    )  # fmt: skip
    raised = await calls.raise_from_tv("N1-2-A")
    loop = asyncio.create_task(calls.run_escalation(30))
    try:
        await asyncio.wait_for(parked.wait(), 10)
    finally:
        loop.cancel()
        await asyncio.gather(loop, return_exceptions=True)
        await calls.close()
    async with service.db.session() as s:
        row = await s.get(NurseCall, raised.call_id)
        assert row is not None and row.level == 2
        offsets = [
            (datetime.fromisoformat(e["at"]) - row.raised_at).total_seconds()
            for e in row.escalations
        ]
    assert offsets == [120.0, 300.0]  # escalated on the first tick past each time limit


async def test_close_stops_the_notice_sender_wherever_it_is(service: Service) -> None:
    """close() returns whatever the notice sender is awaiting when asked: it once waited
    forever when the cancel landed just as the broker's acknowledgement came in."""

    def nurse_calls() -> NurseCalls:
        return NurseCalls(
            db=service.db, bus=service.bus, link=service.link, topics=service.topics,
            clock=service.clock,
        )  # fmt: skip

    for turns in range(8):  # closed after 0..7 turns of the loop
        service.clock.advance(60)  # a new press from the TV each time
        calls = nurse_calls()
        await calls.raise_from_tv("N1-2-A")  # queues the "received" notice
        for _ in range(turns):
            await asyncio.sleep(0)
        async with asyncio.timeout(5):
            await calls.close()
        nurse = nurse_calls()
        assert await nurse.clear_by_badge("N1-2-A", "BADGE-NINA") is not None
        await nurse.notices_sent()
        await nurse.close()
    assert await service.calls.open_calls("N1") == []


def rings(service: Service) -> list[NurseCallRingWanted]:
    return [e for e in service.events if isinstance(e, NurseCallRingWanted)]


async def test_rings_follow_the_levels_and_every_press_gets_its_notice(
    service: Service, shared_broker: tuple[str, int], topics: Topics
) -> None:
    host, port = shared_broker
    async with terminal(host, port, topics, "NA") as bed_a:
        await bed_a.send(press("r-1"))
        await wait_until(lambda: states(bed_a.notices).count("received") == 1)
        await bed_a.send(press("r-2"))  # pressed again while the call is open: told again
        await wait_until(lambda: states(bed_a.notices).count("received") == 2)
        [call] = await service.calls.open_calls("N1")
        service.clock.advance(120)
        await service.calls.escalate_due()
        service.clock.advance(180)
        await service.calls.escalate_due()
        await service.bus.drain()
        assert [(r.call_id, r.level, r.phones) for r in rings(service)] == [
            (call.call_id, 0, ("2000",)),
            (call.call_id, 1, ("2000", "2100")),
            (call.call_id, 2, ("2000", "2100", "2200")),
        ]
        first = rings(service)[0]
        assert (first.caller_name, first.bed_extension, first.names_from_bed) == (
            "Appel ch. 1 lit A", "3101", False,
        )  # fmt: skip
        assert first.reissue_seconds < first.dial_limit_seconds
        # a restart: the open call's ring is asked for again, at its level
        assert await service.calls.ring_open_calls() == 1
        await service.bus.drain()
        assert rings(service)[-1].phones == ("2000", "2100", "2200")
        await service.calls.acknowledge(call.call_id, "nina")
        await wait_until(lambda: "acknowledged" in states(bed_a.notices))
        await bed_a.send(press("r-3"))  # the patient presses again: still taken
        await wait_until(lambda: states(bed_a.notices).count("acknowledged") == 2)
        assert await service.calls.ring_open_calls() == 0  # acknowledged: nothing rings


async def test_the_ward_policy_decides_the_phones(service: Service) -> None:
    async with service.db.session() as s:
        s.add(InventoryMeta(key=POLICY_META_KEY, value={"N1": {
            "keep_lower_levels": False, "caller_name": "patient", "answer_connects_bed": True,
            "dial_limit_seconds": 6, "reissue_seconds": 4,
        }}))  # fmt: skip
    raised = await service.calls.raise_from_tv("N1-2-A")
    service.clock.advance(120)
    await service.calls.escalate_due()
    await service.bus.drain()
    assert [(r.level, r.phones) for r in rings(service)] == [(0, ("2000",)), (1, ("2100",))]
    last = rings(service)[-1]
    assert (last.call_id, last.names_from_bed, last.connect_bed) == (raised.call_id, True, True)
    assert (last.dial_limit_seconds, last.reissue_seconds) == (6, 4)


async def test_answering_at_a_phone_and_the_console_acknowledge_audited(
    service: Service,
) -> None:
    service.calls.subscribe(service.bus)
    first = await service.calls.raise_from_tv("N1-1-A")
    service.bus.publish(
        NurseCallAnsweredAtPhone(
            call_id=first.call_id, bed_label="", ward_code="", extension="2000"
        )
    )
    await wait_until(lambda: any(isinstance(e, NurseCallAcknowledged) for e in service.events))
    [acked] = [e for e in service.events if isinstance(e, NurseCallAcknowledged)]
    assert (acked.call_id, acked.by, acked.via) == (first.call_id, "phone:2000", "phone")
    second = await service.calls.raise_from_tv("N1-2-A")
    await add_nurse(service.db, "sam", "BADGE-SAM", roles="switchboard")
    done = await service.calls.acknowledge(second.call_id, "sam")
    assert (done.state, done.acknowledged_by) == ("acknowledged", "sam")
    with pytest.raises(PermissionDenied):
        await service.calls.acknowledge(second.call_id, "adam")  # an admin is not the ward
    assert (await service.calls.acknowledge(second.call_id, "nina")).acknowledged_by == "sam"
    await service.calls.clear_by_badge("N1-2-A", "BADGE-NINA")
    async with service.db.session() as s:
        rows = (await s.scalars(select(AuditEvent).order_by(AuditEvent.seq))).all()
    trail = [
        (r.actor, r.action, r.details.get("via")) for r in rows if r.subject_type == "nurse_call"
    ]
    assert trail == [
        ("phone:2000", "nurse_call.acknowledge", "phone"),
        ("sam", "nurse_call.acknowledge", "console"),
        ("nina", "nurse_call.clear", "badge"),
    ]
