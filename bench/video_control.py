"""Wardline's control of a video visit against a real Janus and coturn (started here from the
generated configuration, on 127.0.0.1): invitation, acceptance (the room created), three
participants joining (a Janus token each, allowed in the room, a TURN credential), the end
(room destroyed, tokens removed), through the visit service on SQLite with its audit rows.
Baseline of the same run: one bare Janus round trip (``info``) and one bare room create +
destroy with the API secret. Also the CPU of Wardline's process and of Janus's during the
visits. The media path (first frame) is measured by the browser benchmark.

    python bench/video_control.py [--visits 20] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ehr_bridge.adt_message import parse_adt  # noqa: E402
from tests.ehr_bridge.messages import adt  # noqa: E402
from tests.video.gateways import running_gateways  # noqa: E402
from video import janus_messages as jm  # noqa: E402
from video.janus_client import JanusAddress, JanusGateway, JanusSession  # noqa: E402
from video.rooms import RoomKeeper, VideoOptions  # noqa: E402
from video.service import VideoService  # noqa: E402
from wardline.bus import EventBus  # noqa: E402
from wardline.db.engine import Database, upgrade  # noqa: E402
from wardline.domain.audit import AuditLog  # noqa: E402
from wardline.domain.commands import SYSTEM_ADMIN_CLI  # noqa: E402
from wardline.domain.inventory import load_inventory  # noqa: E402
from wardline.domain.staff import StaffDirectory  # noqa: E402
from wardline.domain.stays import Stays  # noqa: E402
from wardline.domain.video_port import Caller  # noqa: E402

HOSPITAL = ROOT / "examples" / "hospital.yaml"
BED, TERMINAL = "CARDIO-101-A", "T-CARDIO-101-A"


def cpu_of(pid: int) -> float:
    """CPU seconds (user + system) of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000


async def timed(out: list[float], step: Awaitable[Any]) -> Any:
    start = time.perf_counter()
    result = await step
    out.append(time.perf_counter() - start)
    return result


async def run(visits: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        db_url = f"sqlite+aiosqlite:///{folder / 'bench.db'}"
        await upgrade(db_url)
        db, bus, audit = Database(db_url), EventBus(), AuditLog(key=b"k" * 32)
        await bus.start()
        await load_inventory(db, HOSPITAL, SYSTEM_ADMIN_CLI, audit)
        stays = Stays(db, bus, audit)
        await stays.apply(parse_adt(adt("A01", "B1")).command, SYSTEM_ADMIN_CLI)
        staff = StaffDirectory(db, audit)
        for name in ("clara", "nina"):
            await staff.add_user(
                SYSTEM_ADMIN_CLI,
                username=name,
                display_name=name,
                roles={"clinician"},
                password="bench-password",
            )
        times: dict[str, list[float]] = {
            k: [] for k in ("invite", "accept", "join", "end", "visit", "bare_info", "bare_room")
        }
        async with running_gateways(folder / "gateways") as g, aiohttp.ClientSession() as http:
            c = g.config
            address = JanusAddress(
                g.api_url, g.admin_url, c.api_secret, c.admin_secret, c.room_admin_key
            )
            gateway = JanusGateway(http, address)
            options = VideoOptions(
                g.ws_url, g.api_url, tuple(g.turn_urls), c.turn_secret, 60, 5, 120, False
            )
            service = VideoService(
                db, bus, audit, RoomKeeper(gateway, options), lambda: datetime.now(UTC), options
            )
            nurse = Caller("staff", "nina", "nina", None, frozenset({"clinician"}))
            doctor = Caller("staff", "clara", "clara", None, frozenset({"clinician"}))
            tv = Caller("tv", TERMINAL, BED)
            for _ in range(3):  # warm-up, not counted
                await gateway.info()
            ours_before, janus_before = time.process_time(), cpu_of(g.janus.pid)
            for _ in range(visits):
                start = time.perf_counter()
                started = await timed(
                    times["invite"], service.start(nurse, BED, ["clara"], ["guest"])
                )
                visit_id = started.visit.visit_id
                await timed(times["accept"], service.answer(tv, visit_id, True))
                for who in (nurse, doctor, tv):
                    await timed(times["join"], service.join(who, visit_id))
                await timed(times["end"], service.end(nurse, visit_id))
                times["visit"].append(time.perf_counter() - start)
            ours = time.process_time() - ours_before
            janus = cpu_of(g.janus.pid) - janus_before
            for i in range(visits):
                await timed(times["bare_info"], gateway.info())
                session = JanusSession(http, g.api_url, api_secret=c.api_secret)
                spec = jm.RoomSpec(10_000 + i, "bench-secret-0123", "bench-pin-0123", "bare")
                start = time.perf_counter()
                await session.open()
                await session.request(jm.create_room(spec, c.room_admin_key))
                await session.request(jm.destroy_room(spec.room, spec.secret))
                await session.close()
                times["bare_room"].append(time.perf_counter() - start)
            leftover = await gateway.tokens()
        await bus.stop()
        await db.dispose()
    result: dict[str, Any] = {"visits": visits, "leftover_tokens": len(leftover)}
    for name, values in times.items():
        result[f"{name}_p50_ms"] = round(p(values, 0.5), 2)
        result[f"{name}_p95_ms"] = round(p(values, 0.95), 2)
    result["accept_over_bare_room_p50"] = round(
        statistics.median(times["accept"]) / statistics.median(times["bare_room"]), 2
    )
    result["join_over_bare_info_p50"] = round(
        statistics.median(times["join"]) / statistics.median(times["bare_info"]), 2
    )
    result["wardline_cpu_ms_per_visit"] = round(ours / visits * 1000, 1)
    result["janus_cpu_ms_per_visit"] = round(janus / visits * 1000, 1)
    result["load_average_1m"] = os.getloadavg()[0]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--visits", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="5 visits")
    parser.add_argument("--json", action="store_true", help="one JSON object last")
    args = parser.parse_args()
    result = asyncio.run(run(5 if args.quick else args.visits))
    for key, value in result.items():
        print(f"{key:32} {value}")
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
