"""The ADT inbox shared by two instances on one real PostgreSQL: each message applied exactly
once whichever instance (or both) received it, and a patient's messages applied in order even
when they reach different instances."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ehr_bridge import adt_inbox
from ehr_bridge.adt_processing import AdtProcessor
from tests.ehr_bridge.conftest import open_hospital
from tests.ehr_bridge.messages import adt
from tests.services import fresh_postgres_database, need_postgres
from wardline.bus import EventBus
from wardline.db.engine import Database
from wardline.db.models import AuditEvent, InboundMessage, Stay
from wardline.domain.audit import AuditLog
from wardline.domain.stays import Stays
from wardline.example_hospital import generate

BEDS = 40


@dataclass
class Pair:
    a: AdtProcessor
    b: AdtProcessor
    db: Database


@pytest.fixture
async def pair(tmp_path: Path, migrated_templates: dict[str, str]) -> AsyncIterator[Pair]:
    need_postgres()
    async with fresh_postgres_database(template=migrated_templates["postgres"]) as url:
        first = await open_hospital(url, tmp_path, beds=BEDS, migrated=True)
        second = Database(url)  # the other instance: its own engine, pool and domain
        a = AdtProcessor(first.db, first.stays)
        b = AdtProcessor(second, Stays(second, EventBus(), AuditLog()))
        try:
            yield Pair(a, b, first.db)
        finally:
            for processor, db in ((a, first.db), (b, second)):
                await processor.close()
                await db.dispose()


def patients(count: int, tag: str) -> list[list[bytes]]:
    """Each patient admitted, transferred, updated and discharged (bed pairs not shared)."""
    doc = generate(beds=BEDS, beds_per_ward=20)
    slots = [
        (ward["code"], room["code"], bed["code"])
        for site in doc["sites"]
        for ward in site["wards"]
        for room in ward["rooms"]
        for bed in room["beds"]
    ]
    out = []
    for n in range(count):
        ward, room, bed = slots[2 * n]
        ward2, room2, bed2 = slots[2 * n + 1]
        common = {"ipp": f"{tag}{n:05d}", "visit": f"V{tag}{n:05d}"}
        here = {"ward": ward, "room": room, "bed": bed}
        there = {"ward": ward2, "room": room2, "bed": bed2}
        out.append(
            [
                adt("A01", f"{tag}-{n}-1", **common, **here),
                adt("A02", f"{tag}-{n}-2", **common, **there),
                adt("A08", f"{tag}-{n}-3", **common, **there, family="DURAND"),
                adt("A03", f"{tag}-{n}-4", **common, **there),
            ]
        )
    return out


def code(ack: bytes) -> str:
    return ack.split(b"MSA|", 1)[1][:2].decode()


async def applied_once(db: Database) -> tuple[dict[str, int], int, int]:
    """(status counts, settlements beyond one per message, admissions audited)."""
    async with db.sessions() as s:
        by_status = dict(
            (await s.execute(select(InboundMessage.status, func.count()).group_by("status"))).all()
        )
        extra = await s.scalar(select(func.count()).where(InboundMessage.attempts != 1))
        audited = await s.scalar(select(func.count()).where(AuditEvent.action == "stay.admit"))
    return by_status, int(extra or 0), int(audited or 0)


async def test_every_message_sent_to_both_instances_is_applied_once(pair: Pair) -> None:
    """A sender that gives up on one instance and sends again to the other: both answer AA,
    the stay changes happen once."""
    work = patients(12, "D")

    async def one_patient(messages: list[bytes]) -> list[str]:
        codes = []
        for message in messages:
            acks = await asyncio.gather(pair.a.receive(message), pair.b.receive(message))
            codes += [code(ack) for ack in acks]
        return codes

    results = await asyncio.gather(*(one_patient(m) for m in work))
    assert all(c == "AA" for codes in results for c in codes)
    by_status, extra, admitted = await applied_once(pair.db)
    assert by_status == {"applied": 12 * 4} and extra == 0 and admitted == 12
    async with pair.db.sessions() as s:
        stays = dict(
            (await s.execute(select(Stay.status, func.count()).group_by(Stay.status))).all()
        )
    assert stays == {"discharged": 12}  # one stay per patient, each discharged


async def test_a_patients_messages_alternating_instances_stay_in_order(pair: Pair) -> None:
    """Each patient's messages go to A, B, A, B (waiting for each ACK, as a sender does),
    many patients at once: all AA, each applied once, every stay ends discharged."""
    work = patients(16, "O")

    async def one_patient(messages: list[bytes]) -> list[str]:
        processors = (pair.a, pair.b)
        return [code(await processors[i % 2].receive(m)) for i, m in enumerate(messages)]

    results = await asyncio.gather(*(one_patient(m) for m in work))
    assert all(codes == ["AA"] * 4 for codes in results)
    by_status, extra, admitted = await applied_once(pair.db)
    assert by_status == {"applied": 16 * 4} and extra == 0 and admitted == 16


async def test_a_message_persisted_on_another_instance_goes_first(pair: Pair) -> None:
    """A persisted the admission and stopped before applying it; the transfer reaches B,
    which applies the admission first, then the transfer. A's own attempt later (its
    restart, or the sender's resend) answers AA from the store and applies nothing."""
    [admit, transfer, *_] = patients(1, "P")[0]
    parsed = pair.a.parse(admit)
    entry, new = await adt_inbox.persist(
        pair.db,
        raw=admit,
        sender=parsed.header.sender,
        control_id=parsed.header.control_id,
        message_type="ADT^A01",
        charset=parsed.codec,
        patient_key=parsed.patient_key,
        received_at=pair.a.clock(),
    )
    assert new
    assert code(await pair.b.receive(transfer)) == "AA"
    async with pair.db.sessions() as s:
        order = list(await s.scalars(select(InboundMessage.status).order_by(InboundMessage.id)))
    assert order == ["applied", "applied"]
    assert (await pair.a.process(entry.id, patient_key=parsed.patient_key)).ack_code == "AA"
    assert code(await pair.a.receive(admit)) == "AA"  # the resend: the stored answer
    by_status, extra, admitted = await applied_once(pair.db)
    assert by_status == {"applied": 2} and extra == 0 and admitted == 1


async def test_two_instances_recovering_the_same_inbox_apply_each_message_once(
    pair: Pair,
) -> None:
    """Messages persisted and never applied (their instance died): both instances start and
    recover at once. Each message is claimed by one, in its patient's order, applied once:
    one audit row per patient and command, every stay discharged."""
    count = 12
    for messages in patients(count, "R"):
        for raw in messages:
            parsed = pair.a.parse(raw)
            await adt_inbox.persist(
                pair.db,
                raw=raw,
                sender=parsed.header.sender,
                control_id=parsed.header.control_id,
                message_type="ADT",
                charset=parsed.codec,
                patient_key=parsed.patient_key,
                received_at=pair.a.clock(),
                movement_at=parsed.time.at if parsed.time else None,
            )
    await asyncio.gather(pair.a.recover(), pair.b.recover())
    by_status, extra, _ = await applied_once(pair.db)
    assert by_status == {"applied": count * 4} and extra == 0
    async with pair.db.sessions() as s:
        actions = dict(
            (
                await s.execute(
                    select(AuditEvent.action, func.count())
                    .where(AuditEvent.action != "inventory.load")
                    .group_by(AuditEvent.action)
                )
            ).all()
        )
        stays = dict(
            (await s.execute(select(Stay.status, func.count()).group_by(Stay.status))).all()
        )
    assert set(actions.values()) == {count}, actions  # each command audited once per patient
    assert stays == {"discharged": count}
