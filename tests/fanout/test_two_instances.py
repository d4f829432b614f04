"""Two instances of the service (two ``build_app`` on one real PostgreSQL, each with its own
engine, bus and port): a console signed in on A goes on on B without signing in again, and
its live feed on B shows a stay admitted over MLLP on A; a lost listener rebuilds the feed."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiohttp import web
from yarl import URL

from ehr_bridge.adt_builder import AdtBed, AdtPatient, AdtSender, adt_message
from ehr_bridge.component import EHR
from ehr_bridge.component import setup as ehr_setup
from kiosk_ui.component import SESSION_COOKIE
from kiosk_ui.component import setup as web_setup
from tests.conftest import EXAMPLE_HOSPITAL, FakeClock
from tests.services import PG_ADMIN_URL, fresh_postgres_database, need_postgres
from tests.web.conftest import Browser, Serve, add_staff, web_settings
from wardline import appkeys as k
from wardline.app import build_app
from wardline.db.engine import Database
from wardline.domain.audit import AuditLog
from wardline.domain.commands import SYSTEM_ADMIN_CLI
from wardline.domain.inventory import load_inventory
from wardline.fanout.bridge import APPLICATION_NAME
from wardline.fanout.component import PEER_EVENTS

PATIENT = AdtPatient(ipp="910001", family="Zeitlos", given="Ida", birth_date=date(1950, 1, 2),
                     visit_number="V-TWO-1")  # fmt: skip


async def _until_up(*apps: web.Application) -> None:
    async with asyncio.timeout(20):
        while not all(app[PEER_EVENTS].state == "up" for app in apps):  # noqa: ASYNC110
            await asyncio.sleep(0.02)


@pytest.fixture
async def two(
    migrated_templates: dict[str, str], tmp_path: Path, serve_app: Serve
) -> AsyncIterator[tuple[tuple[web.Application, str], tuple[web.Application, str]]]:
    need_postgres()
    async with fresh_postgres_database(template=migrated_templates["postgres"]) as url:
        first = Database(url)
        await load_inventory(first, EXAMPLE_HOSPITAL, SYSTEM_ADMIN_CLI, AuditLog(clock=FakeClock()))
        # A takes the ADT feed over MLLP; both serve the web; same secrets (one data dir)
        app_a = build_app(
            web_settings(tmp_path, mllp_enabled=True, mllp_port=0),
            database=first, components=[ehr_setup, web_setup],
        )  # fmt: skip
        app_b = build_app(
            web_settings(tmp_path), database=Database(url), components=[ehr_setup, web_setup]
        )
        await add_staff(app_a)
        base_a, base_b = await serve_app(app_a), await serve_app(app_b)
        await _until_up(app_a, app_b)
        yield (app_a, base_a), (app_b, base_b)


async def _message(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    msg = await ws.receive(timeout=20)
    assert msg.type == aiohttp.WSMsgType.TEXT, msg
    data: dict[str, Any] = json.loads(msg.data)
    return data


async def test_a_console_signed_in_on_a_goes_on_on_b_and_sees_a_stay_admitted_on_a(
    two: tuple[tuple[web.Application, str], tuple[web.Application, str]],
) -> None:
    (app_a, base_a), (app_b, base_b) = two
    on_a = Browser(base_a)
    on_b = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    try:
        await on_a.sign_in("opal", "9000")
        token = next(c.value for c in on_a.http.cookie_jar if c.key == SESSION_COOKIE)
        # the same cookie, sent to B (a load balancer moved the console): signed in there
        on_b.cookie_jar.update_cookies({SESSION_COOKIE: token}, response_url=URL(base_b))
        async with on_b.get(base_b + "/api/v1/session") as r:
            state = await r.json()
        assert r.status == 200 and state["user"]["username"] == "opal"

        ws = await on_b.ws_connect(base_b.replace("http", "ws") + "/ws?topics=stays")
        assert (await _message(ws))["topic"] == "snapshot"
        port = app_a[EHR].listener.port  # type: ignore[union-attr]
        assert port is not None
        adt = AdtSender("127.0.0.1", port)
        try:
            bed = AdtBed(ward="CARDIO", room="101", bed="A")
            assert await adt.send(adt_message("A01", PATIENT, bed, "TWO-0001")) == "AA"
        finally:
            await adt.close()
        event = await _message(ws)
        assert event == {
            "topic": "stays",
            "type": "StayAdmitted",
            "data": {"occupied": {"bed": "CARDIO-101-A", "ward_code": "CARDIO"}},
        }
        assert "Zeitlos" not in json.dumps(event)
        assert app_b[PEER_EVENTS].received >= 1

        # B loses its listening connection: the console is closed to reconnect to a snapshot
        admin = await asyncpg.connect(PG_ADMIN_URL)
        try:
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 "
                "AND application_name = $2 AND pid <> pg_backend_pid()",
                app_b[k.DATABASE].url.rsplit("/", 1)[1], APPLICATION_NAME,
            )  # fmt: skip
        finally:
            await admin.close()
        closed = await ws.receive(timeout=20)
        assert closed.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        assert ws.close_code == 4000
        await _until_up(app_a, app_b)
        ws = await on_b.ws_connect(base_b.replace("http", "ws") + "/ws?topics=stays")
        assert (await _message(ws))["topic"] == "snapshot"

        # signed out on A: the socket on B is closed (the session's end crossed over)
        assert (await on_a.call("DELETE", "/api/v1/session")).status == 204
        closed = await ws.receive(timeout=20)
        assert closed.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        assert ws.close_code == 4401
        async with on_b.get(base_b + "/api/v1/admin/staff") as r:
            assert r.status == 401
    finally:
        await on_a.close()
        await on_b.close()


async def test_on_sqlite_there_is_no_bridge(tmp_path: Path) -> None:
    app = build_app(web_settings(tmp_path), components=[])
    assert PEER_EVENTS not in app
