"""Movements stamped in local time over real MLLP, on both engines: stored in UTC, a sequence
crossing the autumn change kept in order, the spring gap refused, the ACK's MSH-7 offset."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from structlog.testing import capture_logs

from ehr_bridge.adt_listener import AdtListener
from ehr_bridge.adt_processing import AdtProcessor
from tests.ehr_bridge.conftest import Hospital
from tests.ehr_bridge.listener_helpers import stay
from tests.ehr_bridge.messages import adt
from tests.ehr_bridge.mllp_client import Sender, ack_code
from wardline.db.models import InboundMessage


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


async def movement_times(h: Hospital) -> dict[str, datetime | None]:
    async with h.db.sessions() as s:
        rows = await s.execute(
            select(InboundMessage.control_id, InboundMessage.movement_at).order_by(
                InboundMessage.id
            )
        )
        return {r[0]: r[1].astimezone(UTC) if r[1] else None for r in rows}


async def test_a_sequence_crossing_the_autumn_change_keeps_its_order(
    any_hospital: Hospital, any_listener: AdtListener
) -> None:
    """25 October 2026, Paris: 02:00-02:59 happens twice. An admission at 01:30 (CEST), a
    transfer at 02:40 (its first occurrence keeps the order), a transfer at 02:10 (only its
    second occurrence, CET, comes after 02:40 CEST), a discharge at 03:05 (CET)."""
    sequence = [
        ("A01", "S1", "20261025013000", "A"),
        ("A02", "S2", "20261025024000", "B"),
        ("A02", "S3", "20261025021000", "A"),
        ("A03", "S4", "20261025030500", "A"),
    ]
    assert any_listener.port
    with capture_logs() as logs:
        async with Sender(any_listener.port) as sender:
            for event, control_id, at, bed in sequence:
                ack = await sender.send(adt(event, control_id, evn_at=at, bed=bed))
                assert ack_code(ack) == "AA", control_id
            # another patient, nothing before: the first occurrence
            lone = adt("A01", "L1", evn_at="20261025023000", ipp="200", visit="V200", room="102")
            assert ack_code(await sender.send(lone)) == "AA"
    times = await movement_times(any_hospital)
    assert times == {
        "S1": utc(2026, 10, 24, 23, 30),
        "S2": utc(2026, 10, 25, 0, 40),
        "S3": utc(2026, 10, 25, 1, 10),
        "S4": utc(2026, 10, 25, 2, 5),
        "L1": utc(2026, 10, 25, 0, 30),
    }
    found = await stay(any_hospital)
    assert found is not None and found.status == "discharged"
    assert found.started_at.astimezone(UTC) == utc(2026, 10, 24, 23, 30)
    assert found.ended_at is not None
    assert found.ended_at.astimezone(UTC) == utc(2026, 10, 25, 2, 5)
    chosen = [
        (e["message_id"], e["occurrence"], e["by"])
        for e in logs
        if e["event"] == "adt.ambiguous_local_time"
    ]
    assert [c[1:] for c in chosen] == [
        ("first", "movement_order"),
        ("second", "movement_order"),
        ("first", "default"),
    ]
    assert all(set(e) <= {"event", "log_level", "message_id", "occurrence", "by"} for e in logs
               if e["event"] == "adt.ambiguous_local_time")  # fmt: skip


async def test_a_movement_in_the_spring_gap_is_refused_with_its_reason(
    any_hospital: Hospital, any_listener: AdtListener
) -> None:
    assert any_listener.port
    async with Sender(any_listener.port) as sender:
        assert ack_code(await sender.send(adt("A01", "G1", evn_at="20260329013000"))) == "AA"
        ack = await sender.send(adt("A02", "G2", evn_at="20260329023000", bed="B"))
        assert ack_code(ack) == "AR"
        reason = ack.unescape(str(ack.segment("ERR")(8)))
        assert "does not exist in Europe/Paris" in reason
        assert (
            ack_code(await sender.send(adt("A02", "G3", evn_at="20260329033000", bed="B"))) == "AA"
        )
    assert (await movement_times(any_hospital))["G3"] == utc(2026, 3, 29, 1, 30)


async def test_the_ack_carries_the_local_time_with_its_offset(any_hospital: Hospital) -> None:
    now = utc(2026, 7, 3, 21, 30)
    processor = AdtProcessor(any_hospital.db, any_hospital.stays, clock=lambda: now)
    lst = AdtListener(processor, port=0)
    await lst.start()
    try:
        assert lst.port
        async with Sender(lst.port) as sender:
            ack = await sender.send(adt("A01", "T1"))
            assert str(ack.segment("MSH")(7)) == "20260703233000+0200"
            refused = await sender.send(adt("ZZZ", "T2"))
            assert str(refused.segment("MSH")(7)) == "20260703233000+0200"
    finally:
        await lst.stop()


async def test_times_are_read_in_the_zone_of_the_wards_site(any_hospital: Hospital) -> None:
    """Sites in several zones (SUD in Cayenne, UTC-3): a movement without an offset is read in
    the zone of the site of the ward it names; a zone set for the sending facility wins."""
    from ehr_bridge.hl7_time import LocalZones
    from wardline.settings import Settings
    from wardline.ward_time import WardTime

    settings = Settings(site_timezones={"SUD": "America/Cayenne"})
    processor = AdtProcessor(
        any_hospital.db,
        any_hospital.stays,
        ward_time=WardTime(any_hospital.db, settings),
        zones=LocalZones.named("Europe/Paris", {"OTHER-SITE": "Asia/Tokyo"}),
    )
    lst = AdtListener(processor, port=0)
    await lst.start()
    try:
        assert lst.port
        async with Sender(lst.port) as sender:
            at = "20261203233000"
            south = adt("A01", "Z1", evn_at=at, ward="PNEUMO", room="201")
            north = adt("A01", "Z2", evn_at=at, ipp="2", visit="V2")
            tokyo = adt("A01", "Z3", evn_at=at, ipp="3", visit="V3", ward="PNEUMO", room="202",
                        sender=("PASTEL", "OTHER-SITE"))  # fmt: skip
            for raw in (south, north, tokyo):
                assert ack_code(await sender.send(raw)) == "AA"
    finally:
        await lst.stop()
    times = await movement_times(any_hospital)
    assert times["Z1"] == utc(2026, 12, 4, 2, 30)  # 23:30 in Cayenne
    assert times["Z2"] == utc(2026, 12, 3, 22, 30)  # 23:30 in Paris
    assert times["Z3"] == utc(2026, 12, 3, 14, 30)  # 23:30 in Tokyo
