"""Fixtures of the EHR bridge tests: a migrated database holding a small synthetic hospital,
the real domain (Stays) and an MLLP client speaking to the listener over real TCP."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from ehr_bridge.adt_listener import AdtListener
from ehr_bridge.adt_processing import AdtProcessor
from tests.services import fresh_postgres_database, need_postgres
from wardline.bus import EventBus
from wardline.db.engine import Database, create_database
from wardline.domain.audit import AuditLog
from wardline.domain.commands import SYSTEM_ADMIN_CLI
from wardline.domain.inventory import load_inventory
from wardline.domain.stays import Stays
from wardline.example_hospital import generate


@dataclass
class Hospital:
    db: Database
    stays: Stays
    bus: EventBus
    audit: AuditLog


async def open_hospital(
    url: str, inventory_dir: Path, beds: int = 40, *, migrated: bool = False
) -> Hospital:
    db = Database(url) if migrated else await create_database(url)
    path = inventory_dir / "hospital.yaml"
    path.write_text(yaml.safe_dump(generate(beds=beds, beds_per_ward=20)))
    audit = AuditLog()
    bus = EventBus()
    await load_inventory(db, path, SYSTEM_ADMIN_CLI, audit)
    return Hospital(db=db, stays=Stays(db, bus, audit), bus=bus, audit=audit)


@pytest.fixture
async def hospital(tmp_path: Path, migrated_templates: dict[str, str]) -> AsyncIterator[Hospital]:
    """The synthetic hospital on SQLite, from the session's migrated template."""
    target = tmp_path / "wardline.db"
    shutil.copyfile(migrated_templates["sqlite"], target)
    h = await open_hospital(f"sqlite+aiosqlite:///{target}", tmp_path, migrated=True)
    try:
        yield h
    finally:
        await h.db.dispose()


@pytest.fixture
async def listener(hospital: Hospital) -> AsyncIterator[AdtListener]:
    lst = AdtListener(
        AdtProcessor(hospital.db, hospital.stays, default_charset="iso-8859-1"), port=0
    )
    await lst.start()
    try:
        yield lst
    finally:
        await lst.stop()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def any_hospital(
    request: pytest.FixtureRequest, tmp_path: Path, migrated_templates: dict[str, str]
) -> AsyncIterator[Hospital]:
    """The synthetic hospital on each engine (PostgreSQL from the session's template)."""
    if request.param == "sqlite":
        target = tmp_path / "wardline.db"
        shutil.copyfile(migrated_templates["sqlite"], target)
        h = await open_hospital(f"sqlite+aiosqlite:///{target}", tmp_path, migrated=True)
        try:
            yield h
        finally:
            await h.db.dispose()
        return
    need_postgres()
    async with fresh_postgres_database(template=migrated_templates["postgres"]) as url:
        h = await open_hospital(url, tmp_path, migrated=True)
        try:
            yield h
        finally:
            await h.db.dispose()


@pytest.fixture
async def any_listener(any_hospital: Hospital) -> AsyncIterator[AdtListener]:
    lst = AdtListener(AdtProcessor(any_hospital.db, any_hospital.stays), port=0)
    await lst.start()
    try:
        yield lst
    finally:
        await lst.stop()
