"""The ADT listener at its borders: malformed frames and encodings, events it ignores, ward
aliases, junk over TCP, and persistence on PostgreSQL."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ehr_bridge.adt_listener import AdtListener
from ehr_bridge.adt_processing import AdtProcessor
from tests.ehr_bridge.conftest import Hospital
from tests.ehr_bridge.listener_helpers import bed_of, statuses, stay
from tests.ehr_bridge.messages import adt
from tests.ehr_bridge.mllp_client import Sender, ack_code
from wardline.db.models import Patient, Stay


@pytest.mark.parametrize(
    ("frame", "error"),
    [
        (b"MSH|^~\\&|no start block\x1c\r", "101"),
        (b"\x0bPID|||1^^^X^PI\x1c\r", "101"),
        (b"\x0b" + adt("A01", "M1", family="DUPRÉ", encoding="latin-1") + b"\x1c\r", "102"),
    ],
)
async def test_malformed_is_rejected_and_nothing_applied(
    hospital: Hospital, listener: AdtListener, frame: bytes, error: str
) -> None:
    assert listener.port
    async with Sender(listener.port) as sender:
        ack = await sender.send_raw(frame)
        assert ack_code(ack) == "AR"
        assert str(ack.segment("ERR")(3)(1)(1)) == error
        # the connection is still usable after a bad frame
        assert ack_code(await sender.send(adt("A01", "OK1"))) == "AA"
    async with hospital.db.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Stay)) == 1


async def test_only_events_listed_as_unused_are_acknowledged_and_ignored(
    hospital: Hospital, listener: AdtListener
) -> None:
    """A05, A28... (the configured list) are AA and ignored; a missing, garbled or unknown
    message type or trigger is AR, never AA for a message that was not applied."""
    assert listener.port
    base = adt("A01", "X")
    cases = [
        (adt("A05", "M1"), "AA", None),
        (adt("A28", "M2"), "AA", None),
        (adt("Z99", "M3"), "AR", "201"),  # well formed, not used, not listed
        (base.replace(b"ADT^A01^ADT_A01|X", b"ADT|M4"), "AR", "101"),  # no trigger
        (base.replace(b"ADT^A01^ADT_A01|X", b"ADT^A0l^ADT_A01|M5"), "AR", "201"),
        (base.replace(b"ADT^A01^ADT_A01|X", b"ADT^A03^ADT_A03|M6"), "AR", "201"),  # EVN-1 A01
        (base.replace(b"ADT^A01^ADT_A01|X", b"|M7"), "AR", "101"),  # no message type
        (base.replace(b"ADT^A01^ADT_A01|X", b"ORU^R01^ORU_R01|M8"), "AR", "200"),
    ]
    async with Sender(listener.port) as sender:
        for raw, code, error in cases:
            ack = await sender.send(raw)
            assert ack_code(ack) == code, raw[:80]
            if error:
                assert str(ack.segment("ERR")(3)(1)(1)) == error
    assert await statuses(hospital) == [("ignored", "AA")] * 2 + [("rejected", "AR")] * 6
    assert await stay(hospital) is None


async def test_ignored_events_are_a_setting(hospital: Hospital) -> None:
    processor = AdtProcessor(hospital.db, hospital.stays, ignored_events=frozenset({"Z99", "A01"}))
    lst = AdtListener(processor, port=0)
    await lst.start()
    try:
        assert lst.port
        async with Sender(lst.port) as sender:
            assert ack_code(await sender.send(adt("Z99", "M1"))) == "AA"
            assert ack_code(await sender.send(adt("A05", "M2"))) == "AR"
            # a supported event is never ignored, whatever the list says
            assert ack_code(await sender.send(adt("A01", "M3"))) == "AA"
    finally:
        await lst.stop()
    assert await bed_of(hospital) == "CARDIO-101-A"


async def test_ward_aliases_map_points_of_care(hospital: Hospital) -> None:
    processor = AdtProcessor(hospital.db, hospital.stays, ward_aliases={"UF1042": "CARDIO"})
    lst = AdtListener(processor, port=0)
    await lst.start()
    try:
        assert lst.port
        async with Sender(lst.port) as sender:
            assert ack_code(await sender.send(adt("A01", "M1", ward="UF1042"))) == "AA"
    finally:
        await lst.stop()
    assert await bed_of(hospital) == "CARDIO-101-A"


async def test_junk_over_tcp_never_hurts_the_listener(
    hospital: Hospital, listener: AdtListener
) -> None:
    import random

    rng = random.Random(7)
    alphabet = [b"\x0b", b"\x1c", b"\r", b"MSH|^~\\&|", b"PID|", b"|", b"^", b"\xff", b"A01"]
    assert listener.port
    for _ in range(40):
        blob = b"".join(rng.choice(alphabet) for _ in range(rng.randint(1, 30)))
        _reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
        writer.write(blob)
        await writer.drain()
        writer.close()
        await writer.wait_closed()
    async with Sender(listener.port) as sender:
        assert ack_code(await sender.send(adt("A01", "AFTER-JUNK"))) == "AA"
    async with hospital.db.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Stay)) == 1


@pytest.mark.postgres
async def test_listener_on_postgresql(tmp_path: Path) -> None:
    from tests.ehr_bridge.conftest import open_hospital
    from tests.services import fresh_postgres_database

    async with fresh_postgres_database() as url:
        h = await open_hospital(url, tmp_path)
        lst = AdtListener(AdtProcessor(h.db, h.stays), port=0)
        await lst.start()
        try:
            assert lst.port
            async with Sender(lst.port) as sender:
                raw = adt("A01", "PG1", family="DUPRÉ", charset="8859/1", encoding="latin-1")
                assert ack_code(await sender.send(raw)) == "AA"
                assert ack_code(await sender.send(raw)) == "AA"
                assert ack_code(await sender.send(adt("A01", "PG2", bed="Z"))) == "AE"
            assert await statuses(h) == [("applied", "AA"), ("error", "AE")]
            async with h.db.sessions() as s:
                patient = (await s.scalars(select(Patient))).one()
                assert patient.family_name == "DUPRÉ"
        finally:
            await lst.stop()
            await h.db.dispose()
