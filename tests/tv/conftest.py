"""The TV and the nurse's bedside pages over real HTTP: the composition root with the EHR
bridge on the FHIR sandbox (a real HTTP server) and the web edge, the example hospital, one
patient admitted in CARDIO-101-A (gluten-free), a nurse with badge and PIN, and the bed's
terminal enrolled with its credential."""

from __future__ import annotations

import base64
import functools
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from bedside.nurse_call import NurseCalls
from bedside.topics import Topics
from ehr_bridge.adt_message import parse_adt
from ehr_bridge.component import setup as ehr_setup
from ehr_bridge.sandbox.seed import seed_patient
from ehr_bridge.sandbox.server import RunningSandbox, SandboxAuth
from ehr_bridge.sandbox.store import SandboxStore
from kiosk_ui.component import setup as web_setup
from kiosk_ui.options import WebOptions
from kiosk_ui.terminal_auth import issue_credential
from tests.conftest import FakeClock, Hospital
from tests.ehr_bridge.messages import adt
from tests.web.conftest import Browser
from wardline import appkeys as k
from wardline.app import build_app
from wardline.db.engine import Database
from wardline.domain.commands import SYSTEM_ADMIN_CLI
from wardline.settings import Settings

TOKEN = "sandbox-token"
BED = "CARDIO-101-A"
TERMINAL = "T-CARDIO-101-A"
OTHER_TERMINAL = "T-CARDIO-101-B"
BADGE, PIN = "BADGE-0042", "4321"
IPP = "100001"
PASSWORD = "correct horse battery"
# 08:10 in Paris: the 08:00 dose is inside its window; the kitchen (14:00) is open.
START = datetime(2026, 11, 22, 7, 10, tzinfo=UTC)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
async def sandbox(clock: FakeClock) -> AsyncIterator[RunningSandbox]:
    store = SandboxStore()
    seed_patient(
        store,
        ipp=IPP,
        visit_number="V100001",
        location_id="loc-cardio-101-a",
        gluten_free=True,
        now=clock(),
    )
    running = RunningSandbox(store, SandboxAuth(token=TOKEN))
    await running.start()
    yield running
    await running.stop()


class Notices:
    """Where the nurse-call service sends terminal notices (MQTT is not under test here)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bool]] = []

    async def publish_many(self, messages: Iterable[tuple[str, bytes, bool]]) -> None:
        self.sent.extend(messages)


@dataclass
class TvLab:
    app: web.Application
    base: str
    sandbox: RunningSandbox
    credential: str
    clock: FakeClock
    browsers: list[Browser] = field(default_factory=list)

    def browser(self) -> Browser:
        b = Browser(self.base)
        self.browsers.append(b)
        return b

    async def terminal(self, credential: str | None = None) -> Browser:
        b = self.browser()
        await b.refresh()
        state = await b.json(
            "POST", "/api/v1/tv/enroll", {"credential": credential or self.credential}
        )
        assert state["bed"] == BED or credential is not None
        await b.refresh()
        return b


Serve = Callable[[web.Application], Awaitable[str]]


def tv_settings(tmp_path: Path, sandbox: RunningSandbox, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "ami_enabled": False,
        "mqtt_enabled": False,
        "mllp_enabled": False,
        "db_auto_upgrade": False,
        **extra,
    }
    return Settings(
        data_dir=tmp_path,
        session_secret=base64.urlsafe_b64encode(b"t" * 32).decode(),
        fhir_url=sandbox.url,
        fhir_token=TOKEN,  # type: ignore[arg-type]
        **values,
    )


def nurse_calls_component(app: web.Application) -> None:
    app[k.NURSE_CALLS] = NurseCalls(
        db=app[k.DATABASE], bus=app[k.BUS], link=Notices(), topics=Topics(), clock=app[k.CLOCK]
    )


async def open_lab(
    hospital: Hospital, tmp_path: Path, sandbox: RunningSandbox, serve_app: Serve, **extra: Any
) -> TvLab:
    app = build_app(
        tv_settings(tmp_path, sandbox, **extra),
        database=hospital.db,
        clock=hospital.clock,
        components=[
            ehr_setup,
            nurse_calls_component,
            functools.partial(web_setup, options=WebOptions(signin_attempts=50)),
        ],
    )
    base = await serve_app(app)
    await app[k.STAYS].apply(parse_adt(adt("A01", "C1")).command, SYSTEM_ADMIN_CLI)
    await app[k.STAFF].add_user(
        SYSTEM_ADMIN_CLI,
        username="nina",
        display_name="Nina Rossi",
        roles={"nurse"},
        password=PASSWORD,
        pin=PIN,
        badge=BADGE,
        ward_code="CARDIO",
    )
    await app[k.STAFF].add_user(
        SYSTEM_ADMIN_CLI,
        username="opal",
        display_name="Opal",
        roles={"switchboard"},
        password=PASSWORD,
    )
    credential = await issue_credential(app[k.DATABASE], TERMINAL)
    return TvLab(app, base, sandbox, credential, hospital.clock)


@pytest.fixture
async def tvlab(
    hospital: Hospital, tmp_path: Path, sandbox: RunningSandbox, serve_app: Serve
) -> AsyncIterator[TvLab]:
    lab = await open_lab(hospital, tmp_path, sandbox, serve_app)
    yield lab
    for b in lab.browsers:
        await b.close()


@pytest.fixture(params=["sqlite"])
async def db(tmp_path: Path, migrated_templates: dict[str, str]) -> AsyncIterator[Database]:
    """SQLite only, like the web edge's tests: the reads go through the core, tested on both."""
    target = tmp_path / "wardline.db"
    shutil.copyfile(migrated_templates["sqlite"], target)
    database = Database(f"sqlite+aiosqlite:///{target}")
    yield database
    await database.dispose()
