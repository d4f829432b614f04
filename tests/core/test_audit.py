"""The audit chain: verified, append-only in the database, tampering detected."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from tests.conftest import Hospital
from tests.core.test_stays import admit
from wardline.domain.audit import verify_chain
from wardline.domain.commands import SYSTEM_ADT


async def _three_rows(h: Hospital) -> None:
    await h.stays.admit(admit("V1", "P1", "CARDIO-101-A"), SYSTEM_ADT)
    await h.stays.admit(admit("V2", "P2", "CARDIO-101-B"), SYSTEM_ADT)
    await h.stays.admit(admit("V3", "P3", "CARDIO-102-A"), SYSTEM_ADT)


async def test_chain_verifies(hospital: Hospital) -> None:
    await _three_rows(hospital)
    report = await verify_chain(hospital.db)
    assert report.ok and report.rows == 4  # inventory load + three admissions


async def test_database_refuses_update_and_delete(hospital: Hospital) -> None:
    await _three_rows(hospital)
    for statement in (
        "UPDATE audit_events SET actor = 'mallory' WHERE seq = 2",
        "DELETE FROM audit_events WHERE seq = 2",
    ):
        with pytest.raises((IntegrityError, OperationalError, DBAPIError)):
            async with hospital.db.session() as s:
                await s.execute(text(statement))
    assert (await verify_chain(hospital.db)).ok


async def _without_guard(h: Hospital, statement: str) -> None:
    """A database administrator bypassing the trigger: the chain must still tell."""
    async with h.db.session() as s:
        if h.db.is_sqlite:
            await s.execute(text("DROP TRIGGER audit_events_no_update"))
            await s.execute(text("DROP TRIGGER audit_events_no_delete"))
        else:
            await s.execute(text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_change"))
        await s.execute(text(statement))


async def test_edited_row_detected(hospital: Hospital) -> None:
    await _three_rows(hospital)
    await _without_guard(hospital, "UPDATE audit_events SET actor = 'mallory' WHERE seq = 3")
    report = await verify_chain(hospital.db)
    assert not report.ok and report.broken_at == 3 and report.reason == "content altered"


async def test_deleted_row_detected(hospital: Hospital) -> None:
    await _three_rows(hospital)
    await _without_guard(hospital, "DELETE FROM audit_events WHERE seq = 2")
    report = await verify_chain(hospital.db)
    assert not report.ok and report.broken_at == 2


async def test_rehashed_row_breaks_next_link(hospital: Hospital) -> None:
    await _three_rows(hospital)
    await _without_guard(
        hospital,
        "UPDATE audit_events SET hash = '" + "a" * 64 + "' WHERE seq = 2",
    )
    report = await verify_chain(hospital.db)
    assert not report.ok and report.broken_at == 2


async def test_rows_deleted_at_the_end_detected(hospital: Hospital) -> None:
    await _three_rows(hospital)
    await _without_guard(hospital, "DELETE FROM audit_events WHERE seq >= 3")
    report = await verify_chain(hospital.db)
    assert not report.ok and report.broken_at == 3
    assert report.reason == "rows missing at the end (deleted)"


async def test_concurrent_appends_never_fork_the_chain(hospital: Hospital) -> None:
    """Writers racing for the chain head queue on it: every row links to the one before."""
    beds = ["CARDIO-101-A", "CARDIO-101-B", "CARDIO-102-A", "CARDIO-102-B"]
    await asyncio.gather(
        *(
            hospital.stays.admit(admit(f"V{n}", f"P{n}", bed), SYSTEM_ADT)
            for n, bed in enumerate(beds)
        )
    )
    report = await verify_chain(hospital.db)
    assert report.ok and report.rows == 1 + len(beds)
