"""Call records written at hang-up, on a real database."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

import wardline.db.models  # noqa: F401  (the stays table the records refer to)
from telephony.calls.models import CallRecord
from telephony.calls.records import CallRecordWriter
from tests.conftest import Hospital
from tests.services import fresh_postgres_database, wait_until
from tests.telephony.conftest import Lab
from wardline.bus import EventBus
from wardline.db.base import Base
from wardline.domain.call_events import CallEnded


def ended(call_id: str = "1.1") -> CallEnded:
    start = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
    return CallEnded(
        call_id=call_id,
        caller_number="0612345678",
        called_extension="8000",
        extensions=("9000", "2003"),
        started_at=start,
        answered_at=start + timedelta(seconds=4),
        ended_at=start + timedelta(seconds=60),
        disposition="answered",
        transferred=True,
    )


async def check_writer(url: str) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        sessions = async_sessionmaker(engine, expire_on_commit=False)
        writer = CallRecordWriter(sessions, is_bed=lambda ext: ext.startswith("20"))
        await writer(ended())
        await writer(ended())  # the same call again (e.g. after a resync): one record
        async with sessions() as session:
            rows = (await session.scalars(select(CallRecord))).all()
        assert len(rows) == 1 and writer.duplicates == 1
        row = rows[0]
        assert (row.bed_extension, row.extensions, row.disposition) == (
            "2003",
            "9000,2003",
            "answered",
        )
        assert row.ended_at - row.started_at == timedelta(seconds=60)
        assert row.answered_at is not None and row.answered_at.tzinfo is not None
    finally:
        await engine.dispose()


async def test_call_record_on_sqlite(tmp_path: Path) -> None:
    await check_writer(f"sqlite+aiosqlite:///{tmp_path / 'calls.db'}")


async def test_call_record_on_postgres() -> None:
    async with fresh_postgres_database() as url:
        await check_writer(url)


async def test_hang_up_through_the_bus_writes_a_record(lab: Lab) -> None:
    stored: list[CallRecord] = []

    async def store(record: CallRecord) -> None:
        stored.append(record)

    bus = EventBus()
    bus.subscribe(
        CallEnded, CallRecordWriter(store=store, is_bed=lambda e: e[:2] in {"20"}), name="records"
    )
    await bus.start()
    lab.session.state.publish = bus.publish
    try:
        lab.sim.dial("2001", "2900")
        lab.sim.answer("2900")
        await wait_until(lambda: "2900" in {p for c in lab.sim.calls().values() for p in c})
        lab.sim.hangup("2001")
        await wait_until(lambda: stored)
        assert stored[0].bed_extension == "2001" and stored[0].called_extension == "2900"
        assert lab.session.state.calls == {}
    finally:
        await bus.stop()


async def test_migrations_build_the_call_records_table(tmp_path: Path) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from wardline.db.engine import upgrade

    url = f"sqlite+aiosqlite:///{tmp_path / 'migrated.db'}"
    await upgrade(url)
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(
                lambda c: compare_metadata(MigrationContext.configure(c), Base.metadata)
            )
        assert "call_records" in Base.metadata.tables
        assert diff == [], diff
    finally:
        await engine.dispose()


async def test_bed_found_in_the_inventory_on_both_engines(hospital: object) -> None:
    from wardline.db.engine import Database

    db: Database = hospital.db  # type: ignore[attr-defined]
    writer = CallRecordWriter(unit_of_work=db.session)
    event = ended("2.2")
    event = CallEnded(**{**event.__dict__, "extensions": ("9000", "2002", "2001")})
    await writer(event)
    await writer(event)
    async with db.session() as session:
        rows = (await session.scalars(select(CallRecord))).all()
    assert [(r.call_id, r.bed_extension) for r in rows] == [("2.2", "2002")]
    assert writer.duplicates == 1


async def test_record_names_the_stay_active_on_the_bed(hospital: Hospital) -> None:
    from wardline.domain import commands as c

    patient = c.PatientData(ipp="T-1", family_name="SYNTHE", given_name="Test")
    where = c.BedLocation(label="CARDIO-101-A")  # extension 2001
    start = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
    stay = await hospital.stays.admit(
        c.Admit(visit_number="V-CALL", patient=patient, location=where, at=start),
        c.SYSTEM_ADMIN_CLI,
    )
    writer = CallRecordWriter(unit_of_work=hospital.db.session)

    def call(call_id: str, bed: str, hour: int) -> CallEnded:
        at = datetime(2026, 11, 22, hour, 0, tzinfo=UTC)
        return replace(
            ended(call_id), extensions=("9000", bed), started_at=at, ended_at=at, answered_at=at
        )

    await writer(call("c-bed", "2001", 10))
    await writer(call("c-empty-bed", "2002", 10))
    await writer(call("c-before-stay", "2001", 8))
    await hospital.stays.discharge(
        c.Discharge(visit_number="V-CALL", at=start + timedelta(hours=3)), c.SYSTEM_ADMIN_CLI
    )
    await writer(call("c-after-discharge", "2001", 13))
    async with hospital.db.session() as s:
        rows = {r.call_id: r for r in await s.scalars(select(CallRecord))}
    assert (rows["c-bed"].bed_extension, rows["c-bed"].stay_id) == ("2001", stay.stay_id)
    assert (rows["c-empty-bed"].bed_extension, rows["c-empty-bed"].stay_id) == ("2002", None)
    assert rows["c-before-stay"].stay_id is None
    assert rows["c-after-discharge"].stay_id is None
