"""Shared fixtures: databases on both engines, the example hospital, a running web app."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import web

from tests.services import (
    PG_ADMIN_URL,
    fresh_postgres_database,
    need_postgres,
    port_open,
    postgres_url,
)
from wardline.bus import EventBus
from wardline.db.engine import Database, upgrade_sync
from wardline.domain.audit import AuditLog
from wardline.domain.commands import SYSTEM_ADMIN_CLI
from wardline.domain.inventory import load_inventory
from wardline.domain.stays import Stays

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_HOSPITAL = ROOT / "examples" / "hospital.yaml"


@pytest.fixture(autouse=True)
def _ehr_ipp_system(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests run as the hospital of the sandbox and the corpus: its IPP system is set (it is
    required once FHIR is configured); a test of its absence unsets it."""
    from ehr_bridge.sandbox.corpus import IPP_SYSTEM

    monkeypatch.setenv("WARDLINE_EHR_IPP_SYSTEM", IPP_SYSTEM)


class FakeClock:
    """A controllable clock (not a protocol double: time is an input of the domain)."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 11, 22, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database URL on each engine (domain tests run on both)."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'wardline.db'}"
    else:
        async with fresh_postgres_database() as url:
            yield url


@pytest.fixture(scope="session")
def migrated_templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Each engine migrated once per run; tests get copies (migrations are tested on their own)."""
    folder = tmp_path_factory.mktemp("template")
    sqlite_file = folder / "template.db"
    upgrade_sync(f"sqlite+aiosqlite:///{sqlite_file}")
    templates = {"sqlite": str(sqlite_file)}
    pg_name = f"wl_template_{uuid.uuid4().hex[:8]}"
    if port_open("127.0.0.1", 5432):
        asyncio.run(_create_pg_template(pg_name))
        templates["postgres"] = pg_name
    yield templates
    if "postgres" in templates:
        asyncio.run(_drop_pg(pg_name))


async def _create_pg_template(name: str) -> None:
    import asyncpg

    admin = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    await asyncio.to_thread(upgrade_sync, postgres_url(name))


async def _drop_pg(name: str) -> None:
    import asyncpg

    admin = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def db(
    request: pytest.FixtureRequest, tmp_path: Path, migrated_templates: dict[str, str]
) -> AsyncIterator[Database]:
    """A migrated database on each engine, fresh for the test."""
    if request.param == "sqlite":
        target = tmp_path / "wardline.db"
        shutil.copyfile(migrated_templates["sqlite"], target)
        database = Database(f"sqlite+aiosqlite:///{target}")
        yield database
        await database.dispose()
    else:
        need_postgres()
        async with fresh_postgres_database(template=migrated_templates["postgres"]) as url:
            database = Database(url)
            yield database
            await database.dispose()


@dataclass
class Hospital:
    db: Database
    bus: EventBus
    audit: AuditLog
    stays: Stays
    clock: FakeClock
    events: list[object]


@pytest.fixture
async def hospital(db: Database, clock: FakeClock) -> AsyncIterator[Hospital]:
    """The example hospital loaded, with a running bus recording every event."""
    bus = EventBus()
    events: list[object] = []

    async def record(event: object) -> None:
        events.append(event)

    from wardline.domain.events import DomainEvent

    bus.subscribe(DomainEvent, record, name="test-recorder")
    await bus.start()
    audit = AuditLog(clock=clock)
    await load_inventory(db, EXAMPLE_HOSPITAL, SYSTEM_ADMIN_CLI, audit)
    stays = Stays(db, bus, audit, clock=clock, quarantine=timedelta(hours=24))
    yield Hospital(db, bus, audit, stays, clock, events)
    await bus.stop()


@pytest.fixture
async def serve_app() -> AsyncIterator[Callable[[web.Application], object]]:
    """Run an aiohttp application on a real TCP port; return its base URL."""
    runners: list[web.AppRunner] = []

    async def start(app: web.Application) -> str:
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        server = site._server
        assert server is not None
        port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return f"http://127.0.0.1:{port}"

    yield start
    for runner in reversed(runners):
        await runner.cleanup()


# Markers that say which real service a test needs, so that `-m "not browser"` (or
# "not mqtt", "not postgres") selects honestly. Fixtures and imports tell, so a new test is
# marked without anyone remembering to.
_MQTT_FIXTURES = {"shared_broker", "broker_factory", "mosquitto", "mosquitto_broker"}
_BROWSER_NAMES = {"launch_chromium", "async_playwright"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        module = vars(getattr(item, "module", None) or object())
        if names & _MQTT_FIXTURES or "need_mosquitto" in module:
            item.add_marker(pytest.mark.mqtt)
        if _BROWSER_NAMES & set(module) or "browser" in names:
            item.add_marker(pytest.mark.browser)
        if "fresh_postgres_database" in module or "need_postgres" in module:
            item.add_marker(pytest.mark.postgres)
