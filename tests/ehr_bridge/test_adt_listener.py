"""The ADT listener over real MLLP/TCP, applying to the real domain on SQLite."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ehr_bridge import adt_inbox
from ehr_bridge.adt_listener import AdtListener
from ehr_bridge.adt_message import Command
from ehr_bridge.adt_processing import AdtProcessor
from tests.ehr_bridge.conftest import Hospital
from tests.ehr_bridge.listener_helpers import bed_of, statuses, stay
from tests.ehr_bridge.messages import adt
from tests.ehr_bridge.mllp_client import Sender, ack_code
from wardline.db.models import AuditEvent, InboundMessage, Patient
from wardline.domain.commands import Actor
from wardline.domain.events import DomainEvent


async def test_admit_transfer_leave_discharge_over_mllp(
    hospital: Hospital, listener: AdtListener
) -> None:
    assert listener.port
    async with Sender(listener.port) as sender:
        assert ack_code(await sender.send(adt("A01", "M1"))) == "AA"
        assert await bed_of(hospital) == "CARDIO-101-A"
        assert ack_code(await sender.send(adt("A02", "M2", room="102", bed="B"))) == "AA"
        assert await bed_of(hospital) == "CARDIO-102-B"
        assert ack_code(await sender.send(adt("A12", "M3"))) == "AA"
        assert await bed_of(hospital) == "CARDIO-101-A"
        assert ack_code(await sender.send(adt("A21", "M4"))) == "AA"
        view = await hospital.stays.stay_by_visit("V100001")
        assert view is not None and view.on_leave
        assert ack_code(await sender.send(adt("A22", "M5"))) == "AA"
        view = await hospital.stays.stay_by_visit("V100001")
        assert view is not None and not view.on_leave
        assert ack_code(await sender.send(adt("A08", "M6", family="MARTIN-DUBOIS"))) == "AA"
        view = await hospital.stays.stay_by_visit("V100001")
        assert view is not None and view.patient.family_name == "MARTIN-DUBOIS"
        assert ack_code(await sender.send(adt("A03", "M7"))) == "AA"
        assert (await stay(hospital)).status == "discharged"  # type: ignore[union-attr]
        assert ack_code(await sender.send(adt("A13", "M8"))) == "AA"
        assert (await stay(hospital)).status == "active"  # type: ignore[union-attr]
    assert await statuses(hospital) == [("applied", "AA")] * 8


@pytest.mark.parametrize(
    ("admit", "cancel", "final"),
    [("A01", "A11", "cancelled"), ("A04", "A11", "cancelled"), ("A06", "A07", "discharged")],
)
async def test_admission_variants_and_their_reversal(
    hospital: Hospital, listener: AdtListener, admit: str, cancel: str, final: str
) -> None:
    assert listener.port
    async with Sender(listener.port) as sender:
        assert ack_code(await sender.send(adt(admit, "M1"))) == "AA"
        assert (await stay(hospital)).status == "active"  # type: ignore[union-attr]
        assert ack_code(await sender.send(adt(cancel, "M2"))) == "AA"
        assert (await stay(hospital)).status == final  # type: ignore[union-attr]


async def test_merge_moves_stays_to_surviving_patient(
    hospital: Hospital, listener: AdtListener
) -> None:
    assert listener.port
    async with Sender(listener.port) as sender:
        assert ack_code(await sender.send(adt("A01", "M1", ipp="199", visit="V199"))) == "AA"
        ack = await sender.send(adt("A40", "M2", ipp="200", mrg_ipp="199", visit="V199"))
        assert ack_code(ack) == "AA", str(ack)
    view = await hospital.stays.stay_by_visit("V199")
    assert view is not None and view.patient.ipp == "200"


async def test_latin1_name_is_stored_as_such(hospital: Hospital, listener: AdtListener) -> None:
    raw = adt("A01", "M1", family="DUPRÉ", given="HÉLÈNE", charset="8859/1", encoding="latin-1")
    assert listener.port
    async with Sender(listener.port) as sender:
        assert ack_code(await sender.send(raw)) == "AA"
    async with hospital.db.sessions() as s:
        patient = (await s.scalars(select(Patient))).one()
        assert (patient.family_name, patient.given_name) == ("DUPRÉ", "HÉLÈNE")
        row = (await s.scalars(select(InboundMessage))).one()
        assert row.raw == raw and row.charset == "iso8859-1"


async def test_duplicate_is_acknowledged_again_not_applied_twice(
    hospital: Hospital, listener: AdtListener
) -> None:
    assert listener.port
    async with Sender(listener.port) as sender:
        assert ack_code(await sender.send(adt("A01", "M1"))) == "AA"
        assert ack_code(await sender.send(adt("A02", "M2", room="103"))) == "AA"
        first_did = (await stay(hospital)).did  # type: ignore[union-attr]
        again = await sender.send(adt("A01", "M1"))
        assert ack_code(again) == "AA"
        assert str(again.segment("MSA")(2)) == "M1"
    assert await bed_of(hospital) == "CARDIO-103-A"  # the A01 did not move it back
    assert (await stay(hospital)).did == first_did  # type: ignore[union-attr]
    async with hospital.db.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(InboundMessage)) == 2
        admits = await s.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "stay.admit")
        )
        assert admits == 1


async def test_same_control_id_from_another_sender_is_a_new_message(
    hospital: Hospital, listener: AdtListener
) -> None:
    assert listener.port
    async with Sender(listener.port) as sender:
        assert ack_code(await sender.send(adt("A01", "M1"))) == "AA"
        other = adt("A01", "M1", sender=("OTHERAPP", "CHRS"), ipp="2", visit="V2", bed="B")
        assert ack_code(await sender.send(other)) == "AA"
    assert await bed_of(hospital, "V2") == "CARDIO-101-B"


async def test_unknown_bed_is_ae_with_err_and_kept_for_replay(
    hospital: Hospital, listener: AdtListener
) -> None:
    assert listener.port
    async with Sender(listener.port) as sender:
        ack = await sender.send(adt("A01", "M1", ward="NOWARD", room="9", bed="Z"))
    assert ack_code(ack) == "AE"
    assert str(ack.segment("ERR")(3)(1)(1)) == "204"
    assert "NOWARD" in ack.unescape(str(ack.segment("ERR")(8)))
    assert await stay(hospital) is None
    kept = await adt_inbox.by_status(hospital.db, "error")
    assert [(e.control_id, e.error_id) for e in kept] == [("M1", "bed.unknown")]


async def test_replay_after_the_cause_is_fixed(hospital: Hospital, listener: AdtListener) -> None:
    """Out of order: a transfer before its admission is refused (AE), replayed later."""
    assert listener.port
    async with Sender(listener.port) as sender:
        assert ack_code(await sender.send(adt("A02", "M2", room="104"))) == "AE"
        assert ack_code(await sender.send(adt("A01", "M1"))) == "AA"
    [refused] = await adt_inbox.by_status(hospital.db, "error")
    outcome = await listener.processor.replay(refused.id)
    assert outcome.ack_code == "AA"
    assert await bed_of(hospital) == "CARDIO-104-A"
    assert (await adt_inbox.get(hospital.db, refused.id)).attempts == 2  # type: ignore[union-attr]


class _Stuck:
    """A domain that never answers: the process 'crashes' while applying."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()

    async def apply(self, command: Command, actor: Actor) -> object:
        self.entered.set()
        await asyncio.Event().wait()
        return None

    async def apply_in(
        self, session: object, command: Command, actor: Actor
    ) -> tuple[object, list[DomainEvent]]:
        await self.apply(command, actor)
        return None, []

    def publish(self, events: list[DomainEvent]) -> None:
        pass


async def test_restart_between_receipt_and_processing_applies_once(hospital: Hospital) -> None:
    stuck = _Stuck()
    first = AdtListener(AdtProcessor(hospital.db, stuck), port=0)
    await first.start()
    assert first.port
    sender = Sender(first.port)
    await sender.__aenter__()
    send = asyncio.ensure_future(sender.send(adt("A01", "M1")))
    await asyncio.wait_for(stuck.entered.wait(), 5)
    await first.stop()  # the service dies: persisted, never processed, never acknowledged
    send.cancel()
    await sender.__aexit__()
    assert await statuses(hospital) == [("received", None)]
    assert await stay(hospital) is None

    second = AdtListener(AdtProcessor(hospital.db, hospital.stays), port=0)
    await second.start()
    try:
        assert await statuses(hospital) == [("applied", "AA")]
        assert await bed_of(hospital) == "CARDIO-101-A"
        assert second.port
        async with Sender(second.port) as again:  # the sender retries what was never ACKed
            assert ack_code(await again.send(adt("A01", "M1"))) == "AA"
    finally:
        await second.stop()
    async with hospital.db.sessions() as s:
        admits = await s.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "stay.admit")
        )
        assert admits == 1


async def test_one_patient_in_order_across_connections(
    hospital: Hospital, listener: AdtListener
) -> None:
    assert listener.port
    messages = [adt("A01", "P1")] + [adt("A02", f"P{i}", room=f"1{i:02d}") for i in range(2, 8)]
    senders = [Sender(listener.port) for _ in messages]
    for s in senders:
        await s.__aenter__()
    try:
        acks = []
        for s, m in zip(senders, messages, strict=True):
            acks.append(asyncio.ensure_future(s.send(m)))
            await asyncio.sleep(0)  # sent in this order, answered whenever
        codes = [ack_code(a) for a in await asyncio.gather(*acks)]
    finally:
        for s in senders:
            await s.__aexit__()
    assert codes == ["AA"] * len(messages)
    assert await bed_of(hospital) == "CARDIO-107-A"


async def test_recovery_processes_in_order(hospital: Hospital, tmp_path: Path) -> None:
    processor = AdtProcessor(hospital.db, hospital.stays)
    from datetime import UTC, datetime

    for control, raw in (("R1", adt("A01", "R1")), ("R2", adt("A02", "R2", room="105"))):
        await adt_inbox.persist(
            hospital.db,
            raw=raw,
            sender="PASTEL|CHRS",
            control_id=control,
            message_type="ADT",
            charset="utf-8",
            patient_key="CHRS/100001",
            received_at=datetime.now(UTC),
        )
    assert await processor.recover() == 2
    assert await processor.recover() == 0
    assert await bed_of(hospital) == "CARDIO-105-A"
