"""The command line and the service over real processes, HTTP and signals."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import EXAMPLE_HOSPITAL
from wardline.app import build_app
from wardline.db.engine import Database
from wardline.settings import Settings

WARDLINE = [sys.executable, "-m", "wardline"]


def script_heads() -> set[str]:
    from alembic.script import ScriptDirectory

    from wardline.db.engine import MIGRATIONS_DIR

    return set(ScriptDirectory(str(MIGRATIONS_DIR)).get_heads())


def run(
    args: list[str], cwd: Path, stdin: str = "", **env: str
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("WARDLINE_")}
    return subprocess.run(
        [*WARDLINE, *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        env={**clean, **env},
        timeout=120,
    )


def test_fresh_directory_with_no_settings(tmp_path: Path) -> None:
    assert run(["db", "upgrade"], tmp_path).returncode == 0
    loaded = run(["inventory", "load", str(EXAMPLE_HOSPITAL)], tmp_path)
    assert loaded.returncode == 0 and '"beds": 120' in loaded.stdout
    again = run(["inventory", "load", str(EXAMPLE_HOSPITAL)], tmp_path)
    assert "nothing changed" in again.stdout
    added = run(
        [
            "user",
            "add",
            "sw.bernard",
            "--name",
            "Paul Bernard",
            "--role",
            "switchboard",
            "--password-stdin",
        ],
        tmp_path,
        stdin="a long password\n",
    )
    assert added.returncode == 0, added.stderr
    verified = run(["audit", "verify"], tmp_path)
    assert verified.returncode == 0 and "intact: 2 rows" in verified.stdout
    assert (tmp_path / "data" / "wardline.db").exists()


def test_help_lists_every_command(tmp_path: Path) -> None:
    out = run(["--help"], tmp_path).stdout
    for command in ("serve", "db", "inventory", "audit", "user"):
        assert command in out


def test_expected_failures_are_one_line_without_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("hospital: {name: x}\nsites: []\n")
    result = run(["inventory", "load", str(bad)], tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "bad.yaml" in result.stderr and "sites" in result.stderr
    empty = run(["audit", "verify"], tmp_path)
    assert empty.returncode == 2 and "wardline db upgrade" in empty.stderr
    unreachable = run(
        ["db", "upgrade"],
        tmp_path,
        WARDLINE_DATABASE_URL="postgresql+asyncpg://postgres@127.0.0.1:1/none",
    )
    assert unreachable.returncode == 2 and "Traceback" not in unreachable.stderr
    assert "database" in unreachable.stderr
    bad_setting = run(["db", "upgrade"], tmp_path, WARDLINE_HTTP_PORT="x")
    assert bad_setting.returncode == 2 and "WARDLINE_HTTP_PORT" in bad_setting.stderr


async def test_readyz_reports_database_state(tmp_path: Path, serve_app: object) -> None:
    settings = Settings(
        data_dir=tmp_path, ami_enabled=False, mqtt_enabled=False, mllp_enabled=False
    )
    app = build_app(settings)
    base = await serve_app(app)  # type: ignore[operator]
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}/healthz") as r:
            assert r.status == 200 and (await r.json())["status"] == "alive"
        async with http.get(f"{base}/readyz") as r:
            body = await r.json()
            assert r.status == 200 and body["checks"]["database"]["state"] == "up"
            assert "0001_core" not in body["checks"]["database"]["revisions"]  # heads only
            assert body["checks"]["database"]["revisions"] == sorted(script_heads())
        async with http.get(f"{base}/metrics") as r:
            text = await r.text()
            assert 'wardline_dependency_up{dependency="database"} 1.0' in text
            assert "wardline_domain_events_total" in text


async def test_readyz_says_when_database_is_down(tmp_path: Path, serve_app: object) -> None:
    settings = Settings(data_dir=tmp_path, db_auto_upgrade=False)
    down = Database("postgresql+asyncpg://postgres@127.0.0.1:1/none")
    app = build_app(settings, database=down, components=[])
    base = await serve_app(app)  # type: ignore[operator]
    async with aiohttp.ClientSession() as http, http.get(f"{base}/readyz") as r:
        body = await r.json()
    assert r.status == 503 and body["checks"]["database"]["state"] == "down"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_serve_answers_and_stops_cleanly_on_signal(tmp_path: Path, sig: int) -> None:
    port = _free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("WARDLINE_")}
    env = {
        **clean,
        "WARDLINE_HTTP_PORT": str(port),
        "WARDLINE_AMI_ENABLED": "false",
        "WARDLINE_MQTT_ENABLED": "false",
        "WARDLINE_MLLP_ENABLED": "false",
    }
    proc = await asyncio.create_subprocess_exec(
        *WARDLINE,
        "serve",
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        body = None
        async with aiohttp.ClientSession() as http:
            for _ in range(200):
                try:
                    async with http.get(f"http://127.0.0.1:{port}/readyz") as r:
                        body = await r.json()
                        break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.1)
        assert body is not None and body["checks"]["database"]["state"] == "up"
        proc.send_signal(sig)
        code = await asyncio.wait_for(proc.wait(), 20)
        assert code == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
