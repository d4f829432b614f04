"""ADT edge cases over real MLLP, on both engines: control characters, control ids kept whole,
the database refusing a message or not serving at all, and what an AR or an AE leaves behind."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select
from structlog.testing import capture_logs

from ehr_bridge.adt_listener import AdtListener
from ehr_bridge.adt_processing import AdtProcessor
from tests.ehr_bridge.conftest import Hospital
from tests.ehr_bridge.listener_helpers import statuses
from tests.ehr_bridge.messages import adt
from tests.ehr_bridge.mllp_client import Sender, ack_code
from wardline.db.models import InboundMessage, Stay


def err_code(ack: object) -> str:
    return str(ack.segment("ERR")(3)(1)(1))  # type: ignore[attr-defined]


async def stay_count(h: Hospital) -> int:
    async with h.db.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(Stay)) or 0)


@pytest.mark.parametrize(
    "raw",
    [
        adt("A01", "C1", sender=("PAS\x00TEL", "CHRS")),  # MSH-3
        adt("A01", "C1", sender=("PASTEL", "CH\x00RS")),  # MSH-4
        adt("A01", "C\x001"),  # MSH-10
        adt("A01", "C1", family="MAR\x00TIN"),
        adt("A01", "C1", family="MAR\x1bTIN"),  # ESC
        adt("A01", "C1", family="MAR\tTIN"),
        adt("A01", "C1", family="MAR\x7fTIN"),  # DEL
        adt("A01", "C1", family="MAR\x85TIN", charset="8859/1", encoding="latin-1"),  # C1 NEL
        adt("A01", "C1", family="MAR\\X00\\TIN"),  # NUL written as an HL7 escape
        adt("A01", "C1", visit="V1\x0c"),  # form feed
    ],
    ids=["msh3", "msh4", "msh10", "pid5", "esc", "tab", "del", "c1", "escaped", "ff"],
)
async def test_control_characters_are_refused_and_the_feed_goes_on(
    any_hospital: Hospital, any_listener: AdtListener, raw: bytes
) -> None:
    assert any_listener.port
    async with Sender(any_listener.port) as sender:
        ack = await sender.send(raw)
        assert ack_code(ack) == "AR" and err_code(ack) == "102"
        assert "control character" in ack.unescape(str(ack.segment("ERR")(8)))
        assert ack_code(await sender.send(raw)) == "AR"  # the retry too: never a silence
        assert ack_code(await sender.send(adt("A01", "NEXT"))) == "AA"
    assert await statuses(any_hospital) in (
        [("rejected", "AR"), ("applied", "AA")],  # stored under its own key: a duplicate
        [("rejected", "AR"), ("rejected", "AR"), ("applied", "AA")],  # under generated keys
    )
    assert await stay_count(any_hospital) == 1


async def test_control_ids_are_kept_whole(
    any_hospital: Hospital, any_listener: AdtListener
) -> None:
    """Two control ids of 199 characters differing only in the last are two messages; one
    of 200 is refused, never cut into another message's key."""
    first, second = "X" * 198 + "1", "X" * 198 + "2"
    assert any_listener.port
    async with Sender(any_listener.port) as sender:
        ack = await sender.send(adt("A01", first))
        assert ack_code(ack) == "AA" and str(ack.segment("MSA")(2)) == first
        other = adt("A01", second, ipp="100002", visit="V100002", bed="B")
        assert ack_code(await sender.send(other)) == "AA"
        assert ack_code(await sender.send(adt("A01", first))) == "AA"  # a duplicate
        too_long = "X" * 200
        ack = await sender.send(adt("A01", too_long, ipp="100003", visit="V100003", bed="C"))
        assert ack_code(ack) == "AR" and err_code(ack) == "102"
        assert str(ack.segment("MSA")(2)) == too_long  # the ACK names the message whole
    assert await stay_count(any_hospital) == 2
    async with any_hospital.db.sessions() as s:
        ids = list(await s.scalars(select(InboundMessage.control_id).order_by(InboundMessage.id)))
    assert ids[:2] == [first, second]
    assert ids[2].startswith("unparsed-")  # kept, under a key of its own
    assert len(ids) == 3


@pytest.mark.parametrize(
    ("changes", "error_id"),
    [
        ({"ipp": "9" * 65}, "hl7.ipp_too_long"),
        ({"visit": "V" * 65}, "hl7.visit_too_long"),
        ({"sender": ("P" * 64, "CHRS")}, "hl7.sender_too_long"),
    ],
)
async def test_keys_longer_than_their_column_are_refused(
    any_hospital: Hospital, any_listener: AdtListener, changes: dict[str, object], error_id: str
) -> None:
    assert any_listener.port
    async with Sender(any_listener.port) as sender:
        ack = await sender.send(adt("A01", "L1", **changes))  # type: ignore[arg-type]
        assert ack_code(ack) == "AR" and err_code(ack) == "102"
        assert ack_code(await sender.send(adt("A01", "L2"))) == "AA"
    async with any_hospital.db.sessions() as s:
        row = (await s.scalars(select(InboundMessage).order_by(InboundMessage.id))).first()
    assert row is not None and row.error_id == error_id
    assert await stay_count(any_hospital) == 1


@pytest.mark.postgres
async def test_data_the_database_refuses_is_answered_ae_and_the_feed_goes_on(
    any_hospital: Hospital, any_listener: AdtListener
) -> None:
    if any_hospital.db.is_sqlite:
        pytest.skip("SQLite stores text of any length: nothing to refuse")
    assert any_listener.port
    async with Sender(any_listener.port) as sender:
        with capture_logs() as logs:
            ack = await sender.send(adt("A01", "R1", family="M" * 250))  # patients: 200
        assert ack_code(ack) == "AE" and err_code(ack) == "207"
        assert "database refused" in ack.unescape(str(ack.segment("ERR")(8)))
        assert ack_code(await sender.send(adt("A01", "R2"))) == "AA"
    assert await statuses(any_hospital) == [("error", "AE"), ("applied", "AA")]
    refused = [e for e in logs if e["event"] == "adt.storage_refused"]
    assert refused and refused[0]["sqlstate"] == "22001"
    assert await stay_count(any_hospital) == 1


@pytest.mark.postgres
async def test_a_database_not_accepting_connections_is_storage_unavailable(
    any_hospital: Hospital, any_listener: AdtListener
) -> None:
    """No ACK (the sender sends again), logged as storage unavailable; once the database
    serves again the same message is applied, once."""
    if any_hospital.db.is_sqlite:
        pytest.skip("PostgreSQL refusing connections")
    import asyncpg

    from tests.services import PG_ADMIN_URL

    name = any_hospital.db.url.rsplit("/", 1)[-1]
    admin = await asyncpg.connect(PG_ADMIN_URL)
    assert any_listener.port
    try:
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name
        )
        for attempt in range(2):  # a dead pooled connection, then a refused new one
            with capture_logs() as logs:
                async with Sender(any_listener.port) as sender:
                    with pytest.raises(asyncio.IncompleteReadError):
                        await sender.send(adt("A01", "U1"))
            events = [e["event"] for e in logs]
            assert "adt.storage_unavailable" in events, (attempt, events)
            assert "adt.connection_failed" not in events
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
    finally:
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        await admin.close()
    async with Sender(any_listener.port) as sender:
        assert ack_code(await sender.send(adt("A01", "U1"))) == "AA"
        assert ack_code(await sender.send(adt("A01", "U1"))) == "AA"
    assert await statuses(any_hospital) == [("applied", "AA")]
    assert await stay_count(any_hospital) == 1


async def test_an_unexpected_failure_is_answered_ae_not_silence(any_hospital: Hospital) -> None:
    """A failure of ours (here a domain that raises) never closes the connection silently:
    the sender would meet it again on every retry and its whole queue would wait behind."""

    class Broken(AdtProcessor):
        async def receive(self, raw: bytes) -> bytes:
            if b"BOOM" in raw:
                raise RuntimeError("a bug")
            return await super().receive(raw)

    lst = AdtListener(Broken(any_hospital.db, any_hospital.stays), port=0)
    await lst.start()
    try:
        assert lst.port
        async with Sender(lst.port) as sender:
            ack = await sender.send(adt("A01", "BOOM"))
            assert ack_code(ack) == "AE" and str(ack.segment("MSA")(2)) == "BOOM"
            assert ack_code(await sender.send(adt("A01", "NEXT"))) == "AA"
    finally:
        await lst.stop()


@pytest.mark.postgres
async def test_a_message_the_inbox_refuses_is_answered_ar_and_costs_no_other_its_aa(
    any_hospital: Hospital, any_listener: AdtListener
) -> None:
    """PostgreSQL refuses one message's row (a check constraint put there by the test): that
    message is answered AR with the reason, the messages persisted in the same statement are
    stored and applied, and the feed goes on."""
    if any_hospital.db.is_sqlite:
        pytest.skip("a check constraint added on PostgreSQL")
    async with any_hospital.db.autocommit() as conn:
        await conn.exec_driver_sql(
            "ALTER TABLE inbound_messages ADD CONSTRAINT test_refuse "
            "CHECK (control_id <> 'REFUSE-ME')"
        )
    assert any_listener.port
    port = any_listener.port

    async def send(raw: bytes) -> str:
        async with Sender(port) as sender:
            return ack_code(await sender.send(raw))

    with capture_logs() as logs:
        codes = await asyncio.gather(
            send(adt("A01", "REFUSE-ME")),
            *(
                send(adt("A01", f"OK{n}", ipp=f"10000{n}", visit=f"V{n}", room=f"10{n}"))
                for n in range(2, 6)
            ),
        )
    assert codes == ["AR", "AA", "AA", "AA", "AA"]
    refused = [e for e in logs if e["event"] == "adt.storage_refused"]
    assert [e["sqlstate"] for e in refused] == ["23514"]
    assert await stay_count(any_hospital) == 4
    assert sorted(await statuses(any_hospital)) == [("applied", "AA")] * 4
