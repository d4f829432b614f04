"""Two ``wardline serve`` processes on one real PostgreSQL and Mosquitto: the first holds
every lease; killed with SIGKILL, the second takes every duty over, says so on ``/readyz``
and ``/metrics``, and escalates a nurse call pressed after the kill."""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
import signal
import socket
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import aiomqtt
import pytest
from sqlalchemy import select, update

from bedside.contract import NurseCallPressed
from bedside.models import NurseCall
from bedside.topics import Topics
from tests.bedside.conftest import erase_retained
from tests.conftest import EXAMPLE_HOSPITAL
from tests.services import (
    MQTT_HOST,
    MQTT_PORT,
    fresh_postgres_database,
    need_mosquitto,
    need_postgres,
    wait_until,
)
from wardline.cluster.leases import DUTIES, NURSE_CALL_ESCALATION
from wardline.db.engine import Database
from wardline.db.models import Ward
from wardline.domain.audit import AuditLog
from wardline.domain.commands import SYSTEM_ADMIN_CLI
from wardline.domain.inventory import load_inventory

TERMINAL = "T-CARDIO-101-A"
AUDIT_KEY = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Instance:
    def __init__(self, name: str, url: str, root: str, folder: Path) -> None:
        self.name, self.port = name, free_port()
        folder.mkdir()
        clean = {k: v for k, v in os.environ.items() if not k.startswith("WARDLINE_")}
        self.env = {
            **clean,
            "WARDLINE_DATA_DIR": str(folder),
            "WARDLINE_DATABASE_URL": url,
            "WARDLINE_AUDIT_KEY": AUDIT_KEY,
            "WARDLINE_INSTANCE_ID": name,
            "WARDLINE_LEASE_TTL_SECONDS": "1.0",
            "WARDLINE_LEASE_RENEW_SECONDS": "0.25",
            "WARDLINE_HTTP_PORT": str(self.port),
            "WARDLINE_AMI_ENABLED": "false",
            "WARDLINE_MLLP_ENABLED": "false",
            "WARDLINE_MQTT_URL": f"mqtt://{MQTT_HOST}:{MQTT_PORT}",
            "WARDLINE_MQTT_CLIENT_ID": f"{root}-{name}",
            "WARDLINE_BEDSIDE_TOPIC_ROOT": root,
            "WARDLINE_LOG_FORMAT": "json",
        }
        self.log = folder / "service.log"
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "wardline", "serve", env=self.env,
                stdout=out, stderr=asyncio.subprocess.STDOUT,
            )  # fmt: skip

    async def get(self, path: str) -> Any:
        url = f"http://127.0.0.1:{self.port}{path}"
        async with aiohttp.ClientSession() as http, http.get(url) as r:
            return await (r.json() if path == "/readyz" else r.text())

    async def holds(self, duties: tuple[str, ...]) -> bool:
        try:
            report = await self.get("/readyz")
        except aiohttp.ClientError:
            return False
        return set(duties) <= set(report["checks"]["leases"]["held"])

    async def stop(self) -> None:
        proc = self.proc
        if proc is not None and proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 20)
            except TimeoutError:
                proc.kill()
                await proc.wait()


@pytest.fixture
async def hospital_url(migrated_templates: dict[str, str]) -> AsyncIterator[str]:
    need_postgres()
    need_mosquitto()
    async with fresh_postgres_database(template=migrated_templates["postgres"]) as url:
        db = Database(url)
        audit = AuditLog(key=base64.urlsafe_b64decode(AUDIT_KEY))
        await load_inventory(db, EXAMPLE_HOSPITAL, SYSTEM_ADMIN_CLI, audit)
        async with db.session() as s:  # the charge nurse called 2 s after an unanswered call
            steps = [{"level": "charge_nurse", "after_seconds": 2, "extension": "2901"}]
            await s.execute(update(Ward).where(Ward.code == "CARDIO").values(escalation=steps))
        await db.dispose()
        yield url


@pytest.fixture
def root() -> str:
    return f"wltest/{uuid.uuid4().hex[:10]}/v1"


async def test_the_survivor_takes_every_duty_and_escalates_a_new_call(
    hospital_url: str, root: str, tmp_path: Path
) -> None:
    a = Instance("a", hospital_url, root, tmp_path / "a")
    b = Instance("b", hospital_url, root, tmp_path / "b")
    try:
        await a.start()
        await wait_until(lambda: a.holds(DUTIES), timeout=60, interval=0.2)
        await b.start()
        await wait_until(lambda: b.holds(()), timeout=60, interval=0.2)
        report = await b.get("/readyz")
        holders = report["checks"]["leases"]["holders"]
        assert {duty: h["holder"] for duty, h in holders.items()} == dict.fromkeys(DUTIES, "a")
        assert report["checks"]["leases"]["held"] == []

        assert a.proc is not None
        a.proc.kill()  # SIGKILL: no release, no goodbye
        await a.proc.wait()

        press = NurseCallPressed(source="button", press_id=uuid.uuid4().hex[:16])
        async with aiomqtt.Client(MQTT_HOST, MQTT_PORT, identifier=f"{root}-term") as term:
            await term.publish(Topics(root).event(TERMINAL), press.to_bytes(), qos=1)

        db = Database(hospital_url)
        try:

            async def escalated() -> bool:
                async with db.sessions() as s:
                    call = await s.scalar(
                        select(NurseCall).where(NurseCall.terminal_id == TERMINAL)
                    )
                return call is not None and call.level >= 1

            await wait_until(escalated, timeout=60, interval=0.2)
        finally:
            await db.dispose()
        assert await b.holds(DUTIES)
        report = await b.get("/readyz")
        holders = report["checks"]["leases"]["holders"]
        assert {duty: h["holder"] for duty, h in holders.items()} == dict.fromkeys(DUTIES, "b")
        metrics = await b.get("/metrics")
        line = f'wardline_lease_takeovers_total{{duty="{NURSE_CALL_ESCALATION}"}} 1.0'
        assert line in metrics
    finally:
        await b.stop()
        await a.stop()
        await erase_retained(MQTT_HOST, MQTT_PORT, f"{root}/#")
