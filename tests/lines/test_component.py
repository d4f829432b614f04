"""The bed lines wired by the telephony component into the application."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import aiohttp

from telephony.component import BED_LINES, LINES, TELEPHONY, setup
from telephony.simulator.server import PbxSimulator
from tests.conftest import EXAMPLE_HOSPITAL
from tests.lines.conftest import ADT, OPERATOR, admit
from tests.services import wait_until
from wardline import appkeys as k
from wardline.app import build_app
from wardline.db.engine import Database, upgrade
from wardline.domain.audit import AuditLog
from wardline.domain.commands import SYSTEM_ADMIN_CLI
from wardline.domain.inventory import load_inventory
from wardline.settings import Settings


async def test_app_reconciles_at_start_and_follows_stays(
    tmp_path: Path, serve_app: Callable[..., object]
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/w.db"
    await upgrade(url)
    db = Database(url)
    await load_inventory(db, EXAMPLE_HOSPITAL, SYSTEM_ADMIN_CLI, AuditLog())
    await db.dispose()
    sim = await PbxSimulator().start()
    sim.astdb["bed/2001/active"] = "1"  # left over from an old stay: the database wins
    sim.astdb["did/0388110005"] = "2001"
    try:
        settings = Settings(
            data_dir=tmp_path,
            database_url=url,
            ami_port=sim.port,
            ami_secret="wardline-secret",
            mqtt_enabled=False,
            mllp_enabled=False,
        )
        app = build_app(settings, components=[setup])
        base = await serve_app(app)  # type: ignore[misc]
        bed_lines = app[BED_LINES]
        await app[TELEPHONY].link.wait_synced(5)
        await wait_until(lambda: bed_lines.last_repair is not None, 5)
        assert bed_lines.last_repair is not None
        assert bed_lines.last_repair.deleted == ["bed/2001/active", "did/0388110005"]
        assert sim.astdb == {}
        async with aiohttp.ClientSession() as http, http.get(f"{base}/readyz") as resp:
            check = (await resp.json())["checks"]["bed_lines"]
        assert check["state"] == "up" and check["last_repair"] == {"written": 0, "deleted": 2}
        view = await app[k.STAYS].admit(admit("V1", "P1", "CARDIO-102-A"), ADT)
        await wait_until(lambda: sim.astdb.get(f"did/{view.did}") == "2003", 5)
        await app[LINES].suspend("V1", OPERATOR)
        await wait_until(lambda: sim.astdb.get("bed/2003/active") == "0", 5)
        assert f"did/{view.did}" not in sim.astdb
    finally:
        await sim.stop()
