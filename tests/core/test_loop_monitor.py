"""The event-loop monitor: every lag in the histogram served at /metrics, and a stall logged
with the task and the code that held the loop."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
from prometheus_client import CollectorRegistry
from structlog.testing import capture_logs

from wardline import appkeys as k
from wardline.app import build_app
from wardline.db.engine import Database
from wardline.loop_monitor import LoopMonitor, loop_lag_histogram
from wardline.settings import Settings


def hold_the_loop(seconds: float) -> None:
    time.sleep(seconds)  # the bug the monitor is there to find: blocking work on the loop


async def test_a_stall_is_logged_naming_the_task_and_the_code() -> None:
    registry = CollectorRegistry()
    monitor = LoopMonitor(loop_lag_histogram(registry), threshold=0.1)
    runner = asyncio.create_task(monitor.run())
    await asyncio.sleep(0.1)

    async def adt_batch_step() -> None:
        hold_the_loop(0.4)

    with capture_logs() as logs:
        await asyncio.create_task(adt_batch_step(), name="adt-batch-worker")
        await asyncio.sleep(0.1)
    runner.cancel()
    await asyncio.gather(runner, return_exceptions=True)
    stalls = [e for e in logs if e["event"] == "loop.stall"]
    assert len(stalls) == 1, logs
    assert stalls[0]["task"] == "adt-batch-worker"
    assert "hold_the_loop" in stalls[0]["where"] and "test_loop_monitor" in stalls[0]["where"]
    assert stalls[0]["lag_ms"] >= 300
    count = registry.get_sample_value("wardline_event_loop_lag_seconds_count")
    assert count is not None and count > 2
    over = registry.get_sample_value("wardline_event_loop_lag_seconds_bucket", {"le": "0.25"})
    assert over is not None and over < count  # the stall fell in a higher bucket


async def test_the_service_exports_the_loop_lag(
    tmp_path: Path, db: Database, serve_app: object
) -> None:
    settings = Settings(data_dir=tmp_path, db_auto_upgrade=False)
    app = build_app(settings, database=db, components=[])
    base = await serve_app(app)  # type: ignore[operator]
    await asyncio.sleep(0.2)
    async with aiohttp.ClientSession() as http:
        text = await (await http.get(f"{base}/metrics")).text()
    assert "wardline_event_loop_lag_seconds_bucket" in text
    assert app[k.LOOP_MONITOR].worst >= 0
