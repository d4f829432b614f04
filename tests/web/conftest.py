"""The web edge over real HTTP: the app built by the composition root with the web component
(and telephony on the PBX simulator when a test asks for it), served on a real port."""

from __future__ import annotations

import base64
import functools
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from ehr_bridge.component import setup as ehr_setup
from kiosk_ui.component import setup as web_setup
from kiosk_ui.options import WebOptions
from telephony.component import TELEPHONY
from telephony.component import setup as telephony_setup
from telephony.simulator.server import PbxSimulator
from tests.conftest import Hospital
from wardline import appkeys as k
from wardline.app import build_app
from wardline.db.engine import Database
from wardline.db.models import StaffUser
from wardline.domain.audit import DEVELOPMENT_KEY
from wardline.domain.staff import hash_secret
from wardline.settings import Settings

PASSWORD = "correct horse battery"
SIGNIN_ATTEMPTS = 6
USERS = {
    "opal": {"switchboard"},
    "oscar": {"switchboard"},
    "nina": {"nurse"},
    "ada": {"admin"},
}


def web_settings(tmp_path: Path, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": tmp_path,
        "audit_key": base64.urlsafe_b64encode(DEVELOPMENT_KEY).decode(),
        "ami_enabled": False,
        "mqtt_enabled": False,
        "mllp_enabled": False,
        "db_auto_upgrade": False,
    }
    return Settings(**(values | extra))


class Browser:
    """An HTTP client keeping cookies like a browser, that sends the CSRF token it was given."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.csrf = ""

    async def refresh(self) -> dict[str, Any]:
        state = await self.json("GET", "/api/v1/session")
        self.csrf = state["csrf_token"]
        return state

    async def call(
        self, method: str, path: str, body: Any = None, *, csrf: bool = True
    ) -> aiohttp.ClientResponse:
        headers = {"X-CSRF-Token": self.csrf} if csrf and method != "GET" else {}
        response = await self.http.request(
            method, self.base + path, json=body, headers=headers, allow_redirects=False
        )
        await response.read()
        return response

    async def json(self, method: str, path: str, body: Any = None) -> Any:
        response = await self.call(method, path, body)
        assert response.status < 400, (response.status, await response.text())
        return await response.json()

    async def sign_in(self, username: str, extension: str | None = None) -> dict[str, Any]:
        await self.refresh()
        body = {"username": username, "password": PASSWORD, "extension": extension}
        state = await self.json("POST", "/api/v1/session", body)
        self.csrf = state["csrf_token"]
        return state

    async def close(self) -> None:
        await self.http.close()


@dataclass
class WebLab:
    app: web.Application
    base: str
    browsers: list[Browser]
    pbx: PbxSimulator | None = None

    def browser(self) -> Browser:
        b = Browser(self.base)
        self.browsers.append(b)
        return b

    async def signed_in(self, username: str, extension: str | None = None) -> Browser:
        b = self.browser()
        await b.sign_in(username, extension)
        return b


@functools.cache
def password_hash() -> str:
    return hash_secret(PASSWORD)


async def add_staff(app: web.Application) -> None:
    """The test staff, hashed once per run (``StaffDirectory.add_user`` is tested in core)."""
    async with app[k.DATABASE].session() as s:
        for name, roles in USERS.items():
            s.add(
                StaffUser(
                    username=name,
                    display_name=name.title(),
                    roles=",".join(sorted(roles)),
                    password_hash=password_hash(),
                    ward_code="CARDIO" if "nurse" in roles else None,
                    language="en" if name == "oscar" else "fr",
                )
            )


@pytest.fixture(params=["sqlite"])
async def db(tmp_path: Path, migrated_templates: dict[str, str]) -> AsyncIterator[Database]:
    """The web edge's tests run on SQLite only: it reads through the core, tested on both."""
    target = tmp_path / "wardline.db"
    shutil.copyfile(migrated_templates["sqlite"], target)
    database = Database(f"sqlite+aiosqlite:///{target}")
    yield database
    await database.dispose()


Serve = Callable[[web.Application], Awaitable[str]]


@pytest.fixture
async def pbx() -> AsyncIterator[PbxSimulator]:
    sim = await PbxSimulator().start()
    for bed in ("2001", "2002", "2003", "2004"):
        sim.astdb[f"bed/{bed}/active"] = "1"
    yield sim
    await sim.stop()


@pytest.fixture
async def consolelab(
    hospital: Hospital, tmp_path: Path, serve_app: Serve, pbx: PbxSimulator
) -> AsyncIterator[WebLab]:
    """The web edge with telephony connected to the PBX simulator."""
    settings = web_settings(
        tmp_path,
        ami_enabled=True,
        ami_port=pbx.port,
        ami_secret="wardline-secret",
        ami_action_timeout=2.0,
    )
    app = build_app(settings, database=hospital.db, components=[telephony_setup, web_setup])
    await add_staff(app)
    base = await serve_app(app)
    await app[TELEPHONY].link.wait_synced(5)
    lab = WebLab(app, base, [], pbx)
    yield lab
    for b in lab.browsers:
        await b.close()


@pytest.fixture
async def adminlab(hospital: Hospital, tmp_path: Path, serve_app: Serve) -> AsyncIterator[WebLab]:
    """The web edge with the EHR bridge (ADT feed for replays; no FHIR server)."""
    app = build_app(web_settings(tmp_path), database=hospital.db, components=[ehr_setup, web_setup])
    await add_staff(app)
    lab = WebLab(app, await serve_app(app), [])
    yield lab
    for b in lab.browsers:
        await b.close()


@pytest.fixture
async def weblab(hospital: Hospital, tmp_path: Path, serve_app: Serve) -> AsyncIterator[WebLab]:
    options = WebOptions(signin_attempts=SIGNIN_ATTEMPTS)
    app = build_app(
        web_settings(tmp_path),
        database=hospital.db,
        components=[functools.partial(web_setup, options=options)],
    )
    await add_staff(app)
    base = await serve_app(app)
    lab = WebLab(app, base, [])
    yield lab
    for b in lab.browsers:
        await b.close()
