"""The edge wired into the application (readiness, call records) and its commands."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select

from telephony.calls.models import CallRecord
from telephony.cli import cmd_snapshot, register_cli
from telephony.component import SWITCHBOARD, TELEPHONY, setup
from telephony.errors import PbxLoginRefused, PbxUnreachable
from telephony.simulator.server import PbxSimulator
from tests.services import wait_until
from wardline import appkeys as k
from wardline.app import build_app
from wardline.settings import Settings


def settings_for(tmp_path: Path, port: int, secret: str = "wardline-secret") -> Settings:
    return Settings(
        data_dir=tmp_path,
        database_url=f"sqlite+aiosqlite:///{tmp_path}/w.db",
        ami_port=port,
        ami_secret=secret,
        mqtt_enabled=False,
        mllp_enabled=False,
    )


async def test_setup_reports_readiness_and_writes_call_records(
    tmp_path: Path, serve_app: Callable[..., object]
) -> None:
    sim = await PbxSimulator().start()
    sim.astdb["bed/2001/active"] = "1"
    try:
        app = build_app(settings_for(tmp_path, sim.port), components=[setup])
        base = await serve_app(app)  # type: ignore[misc]
        session = app[TELEPHONY]
        await wait_until(lambda: session.link.last_resync_at is not None, timeout=5)
        async with aiohttp.ClientSession() as client, client.get(f"{base}/readyz") as resp:
            report = await resp.json()
        pbx = report["checks"]["pbx"]
        assert pbx["state"] == "up" and pbx["connection"] == "up"
        assert pbx["last_resync_at"] is not None
        assert pbx["nurse_call_rings"] == {
            "placed": 0,
            "failed": 0,
            "stopped": 0,
            "open_calls": 0,
            "live_rings": 0,
        }
        assert app[SWITCHBOARD].snapshot().phones["2001"] == "idle"
        sim.dial("2001", "2002")
        sim.answer("2002")
        sim.hangup("2001")
        database = app[k.DATABASE]

        async def recorded() -> bool:
            async with database.session() as s:
                return bool((await s.scalars(select(CallRecord))).all())

        await wait_until(recorded, timeout=5)
        async with database.session() as s:
            record = (await s.scalars(select(CallRecord))).one()
        assert (record.caller_number, record.called_extension) == ("2001", "2002")
        assert record.disposition == "answered"
    finally:
        await sim.stop()


async def test_snapshot_command_prints_one_json_object(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sim = await PbxSimulator().start()
    try:
        call_id = sim.external_call(to="8000", caller="0612345678", name="Hélène Dupré")
        args = argparse.Namespace(seconds=0.1)
        assert await cmd_snapshot(args, settings_for(tmp_path, sim.port)) == 0
        # (the CLI's logs go to stderr; unconfigured structlog in tests prints to stdout)
        out = [line for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
        assert len(out) == 1
        data = json.loads(out[0])
        assert set(data) == {"calls", "phones", "queues", "parked"}
        assert data["queues"]["switchboard"] == [call_id]
        assert data["calls"][0]["caller_name"] == "Hélène Dupré"
        assert data["calls"][0]["queue_position"] == 1 and data["calls"][0]["queued_since"]
        assert data["phones"]["9000"] == "ringing"
    finally:
        await sim.stop()


async def test_snapshot_command_errors_are_typed_one_liners(tmp_path: Path) -> None:
    sim = await PbxSimulator().start()
    port = sim.port
    try:
        with pytest.raises(PbxLoginRefused) as refused:
            await cmd_snapshot(
                argparse.Namespace(seconds=0), settings_for(tmp_path, port, secret="wrong")
            )
        assert "\n" not in refused.value.message and str(port) in refused.value.message
    finally:
        await sim.stop()
    with pytest.raises(PbxUnreachable) as unreachable:
        await cmd_snapshot(argparse.Namespace(seconds=0), settings_for(tmp_path, port))
    assert "unreachable" in unreachable.value.message


def test_register_cli_adds_pbx_commands() -> None:
    parser = argparse.ArgumentParser()
    register_cli(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["pbx", "snapshot", "--seconds", "2"])
    assert args.seconds == 2.0 and args.handler is cmd_snapshot
    args = parser.parse_args(["pbx", "simulator", "--port", "15038"])
    assert args.port == 15038
