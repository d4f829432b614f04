"""Group commit of ADT messages, over real MLLP, on both engines: messages waiting together
are applied in one transaction; a batch with a refused message is applied again one by one."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from ehr_bridge import adt_inbox
from ehr_bridge.adt_listener import AdtListener
from ehr_bridge.adt_message import Command
from ehr_bridge.adt_processing import AdtProcessor, Outcome
from tests.ehr_bridge.conftest import Hospital, open_hospital
from tests.ehr_bridge.listener_helpers import bed_of, statuses
from tests.ehr_bridge.messages import adt
from tests.ehr_bridge.mllp_client import Sender, ack_code
from tests.services import wait_until
from wardline.db.engine import Database
from wardline.db.models import AuditEvent, InboundMessage
from wardline.domain.audit import verify_chain
from wardline.domain.events import DomainEvent, StayAdmitted


class GatedProcessor(AdtProcessor):
    """The real processor, holding its first message (before its transaction opens: SQLite
    has one writer) until the gate opens, so that the messages sent meanwhile are persisted
    and wait together for the next batch."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.gate, self._first = asyncio.Event(), True

    async def _apply_alone(self, entry: adt_inbox.InboxEntry, command: Command) -> Outcome:
        if self._first:
            self._first = False
            await self.gate.wait()
        return await super()._apply_alone(entry, command)


@dataclass
class Ward:
    hospital: Hospital
    processor: GatedProcessor
    listener: AdtListener
    published: list[DomainEvent]


@pytest.fixture
async def ward(db: Database, tmp_path: Path) -> AsyncIterator[Ward]:
    hospital = await open_hospital(db.url, tmp_path, migrated=True)
    published: list[DomainEvent] = []

    async def record(event: DomainEvent) -> None:
        published.append(event)

    hospital.bus.subscribe(StayAdmitted, record, name="test-recorder")
    await hospital.bus.start()
    processor = GatedProcessor(hospital.db, hospital.stays)
    listener = AdtListener(processor, port=0)
    await listener.start()
    try:
        yield Ward(hospital, processor, listener, published)
    finally:
        await listener.stop()
        await hospital.bus.stop()
        await hospital.db.dispose()


def admission(n: int, *, ward: str = "CARDIO") -> bytes:
    return adt("A01", f"B{n}", ipp=f"2000{n}", visit=f"VB{n}", ward=ward, room=f"10{n}")


async def by_control_id(h: Hospital) -> dict[str, str]:
    async with h.db.sessions() as s:
        rows = await s.execute(select(InboundMessage.control_id, InboundMessage.status))
        return {r[0]: r[1] for r in rows}


async def send_together(w: Ward, messages: list[bytes]) -> list[str]:
    """The first message holds the domain; the others are persisted meanwhile, then the gate
    opens and every ACK is read."""
    assert w.listener.port
    senders = [Sender(w.listener.port) for _ in messages]
    for sender in senders:
        await sender.__aenter__()
    try:
        acks = []
        for count, (sender, message) in enumerate(zip(senders, messages, strict=True), 1):
            acks.append(asyncio.ensure_future(sender.send(message)))
            if count == 1 or count == len(messages):

                async def persisted(count: int = count) -> bool:
                    return len(await statuses(w.hospital)) == count

                await wait_until(persisted)
        w.processor.gate.set()
        return [ack_code(a) for a in await asyncio.gather(*acks)]
    finally:
        for sender in senders:
            await sender.__aexit__()


async def test_messages_waiting_together_commit_together(ward: Ward) -> None:
    codes = await send_together(ward, [admission(n) for n in range(1, 6)])
    assert codes == ["AA"] * 5
    assert ward.processor.batches.batches == 1  # the four that waited: one transaction
    assert await statuses(ward.hospital) == [("applied", "AA")] * 5
    for n in range(1, 6):
        assert await bed_of(ward.hospital, f"VB{n}") == f"CARDIO-10{n}-A"
    # each stay audited once, the chain whole, every admission published after the commit
    report = await verify_chain(ward.hospital.db)
    assert report.ok
    async with ward.hospital.db.sessions() as s:
        admits = await s.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "stay.admit")
        )
    assert admits == 5
    await wait_until(lambda: len(ward.published) == 5)


async def test_a_refused_message_splits_its_batch(ward: Ward) -> None:
    messages = [admission(1), admission(2), admission(3, ward="NOWARD"), admission(4)]
    codes = await send_together(ward, messages)
    assert codes == ["AA", "AA", "AE", "AA"]
    assert ward.processor.batches.split == 1 and ward.processor.batches.batches == 0
    assert await by_control_id(ward.hospital) == {
        "B1": "applied",
        "B2": "applied",
        "B3": "error",
        "B4": "applied",
    }
    [kept] = await adt_inbox.by_status(ward.hospital.db, "error")
    assert (kept.control_id, kept.error_id) == ("B3", "bed.unknown")
    for n in (1, 2, 4):
        assert await bed_of(ward.hospital, f"VB{n}") == f"CARDIO-10{n}-A"
    assert await bed_of(ward.hospital, "VB3") is None
    assert (await verify_chain(ward.hospital.db)).ok
    async with ward.hospital.db.sessions() as s:
        admits = await s.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "stay.admit")
        )
    assert admits == 3  # the rolled-back batch left no audit row behind
