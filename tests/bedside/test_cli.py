"""``wardline mosquitto-config`` and ``wardline terminal simulate``, through their argparse
registration, against a real database and a real Mosquitto started from the output."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import os
import subprocess
from pathlib import Path

import aiomqtt
import pytest

from bedside.broker_config import read_credentials
from bedside.cli import register_cli
from bedside.contract import PatientContext, PhoneLine, Services, parse_event, parse_status
from bedside.errors import BedsideError
from bedside.topics import Topics
from tests.bedside.conftest import free_port, retained
from tests.bedside.ward import seed_ward
from tests.services import port_open
from wardline.db.engine import Database
from wardline.errors import StorageError
from wardline.settings import Settings


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="wardline")
    register_cli(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


async def run(argv: list[str], settings: Settings) -> int:
    args = parse(argv)
    return int(await args.handler(args, settings))


def settings_for(tmp_path: Path, db: Database, port: int, password: str | None = None) -> Settings:
    auth = f"wardline-service:{password}@" if password else ""
    return Settings(
        data_dir=tmp_path / "data", database_url=db.url,
        mqtt_url=f"mqtt://{auth}127.0.0.1:{port}",  # type: ignore[arg-type]
    )  # fmt: skip


async def test_config_from_inventory_then_simulated_terminal(tmp_path: Path, db: Database) -> None:
    await seed_ward(db, "CL", [("CL-1-A", "1", "6101", "T-CL-1"), ("CL-2-A", "2", "6102", None)])
    port = free_port()
    settings = settings_for(tmp_path, db, port)
    out = tmp_path / "broker"
    run_as = ["--run-as", "root"] if os.geteuid() == 0 else []
    assert await run(["mosquitto-config", "--out", str(out), "--terminal", "T-EXTRA",
                      "--no-persistence", *run_as], settings) == 0  # fmt: skip
    creds = read_credentials(tmp_path / "data")
    assert creds is not None and set(creds.terminals) == {"T-CL-1", "T-EXTRA"}
    passwd = (out / "passwd").read_text()
    assert "T-CL-1:$7$101$" in passwd and creds.terminals["T-CL-1"] not in passwd
    conf = (out / "mosquitto.conf").read_text()
    assert f"listener {port} 127.0.0.1" in conf and "allow_anonymous false" in conf
    assert "#certfile" in conf  # TLS listener offered, commented

    # The same command again keeps the passwords.
    assert await run(["mosquitto-config", "--out", str(out), "--no-persistence", *run_as],
                     settings) == 0  # fmt: skip
    assert read_credentials(tmp_path / "data") == creds

    broker = subprocess.Popen(  # noqa: ASYNC220 (a daemon, not awaited)
        ["mosquitto", "-c", str(out / "mosquitto.conf")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(100):
            if port_open("127.0.0.1", port):
                break
            await asyncio.sleep(0.05)
        topics = Topics()
        service = {"username": creds.service_user, "password": creds.service_password}
        ctx = PatientContext(
            greeting_name="Robin", language="fr", room="1", bed_label="CL-1-A",
            phone=PhoneLine(number="0388", state="active"),
            services=Services(tv=True, phone=True, meals=True), meal_ordering="open",
            on_leave=False, updated_at="2026-01-01T00:00:00Z",  # type: ignore[arg-type]
        )  # fmt: skip
        async with aiomqtt.Client("127.0.0.1", port, **service) as svc:
            await svc.subscribe(topics.all_from_terminals("event"), qos=1)
            await svc.publish(topics.context("T-CL-1"), ctx.to_bytes(), qos=1, retain=True)
            printed = io.StringIO()
            with contextlib.redirect_stdout(printed):
                code = await run(
                    ["terminal", "simulate", "T-CL-1", "--script", "call; wait 0.3"], settings
                )
            assert code == 0
            async with asyncio.timeout(5):
                message = await anext(aiter(svc.messages))
            assert str(message.topic) == topics.event("T-CL-1")
            assert isinstance(message.payload, bytes)
            assert parse_event(message.payload).type == "nurse_call"
        lines = printed.getvalue().splitlines()
        assert any(line.startswith("context: welcome 'Robin', bed CL-1-A") for line in lines)
        assert "sent: call" in lines
        seen = await retained("127.0.0.1", port, topics.status("T-CL-1"), **service)
        assert parse_status(seen[topics.status("T-CL-1")]).state == "offline"
    finally:
        broker.terminate()
        broker.wait(timeout=5)


async def test_config_errors_are_one_line(tmp_path: Path, db: Database) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    settings = settings_for(tmp_path, db, 1883)
    with pytest.raises(BedsideError) as info:
        await run(["mosquitto-config", "--out", str(blocker), "--no-inventory"], settings)
    assert info.value.error_id == "mqtt.config_write"
    with pytest.raises(BedsideError):
        await run(["terminal", "simulate", "bad/id"], settings)
    empty = Settings(data_dir=tmp_path / "d2", database_url=f"sqlite+aiosqlite:///{tmp_path}/e.db")
    with pytest.raises(StorageError) as info:
        await run(["mosquitto-config", "--out", str(tmp_path / "o")], empty)
    assert "wardline db upgrade" in info.value.message
