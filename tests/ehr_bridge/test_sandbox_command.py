"""``wardline ehr sandbox`` runs alone: a real process serving real HTTP."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys

import aiohttp

from tests.services import wait_until

SCRIPT = """
import argparse, sys
from ehr_bridge.cli import register_cli
from wardline.settings import Settings
parser = argparse.ArgumentParser(prog="wardline")
register_cli(parser.add_subparsers(dest="command"))
args = parser.parse_args(sys.argv[1:])
sys.exit(args.handler(args, Settings()))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_sandbox_command_serves_the_example_patients() -> None:
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        SCRIPT,
        "ehr",
        "sandbox",
        "--port",
        str(port),
        "--beds",
        "20",
        "--token",
        "demo",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with aiohttp.ClientSession() as http:

            async def up() -> bool:
                try:
                    async with http.get(f"http://127.0.0.1:{port}/metadata") as r:
                        return r.status == 200
                except aiohttp.ClientError:
                    return False

            await wait_until(up, timeout=20, interval=0.2)
            headers = {"Authorization": "Bearer demo"}
            url = f"http://127.0.0.1:{port}/Encounter?location=Location/loc-cardio-101-a"
            async with http.get(url, headers=headers) as r:
                bundle = await r.json(content_type=None)
            assert bundle["total"] == 1
            async with http.get(url) as r:
                assert r.status == 401
    finally:
        process.terminate()
        _, stderr = await asyncio.wait_for(process.communicate(), 10)
    assert b"Traceback" not in stderr


def test_sandbox_refuses_a_bad_port() -> None:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, "ehr", "sandbox", "--port", "70000"],
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert b"--port" in result.stderr and b"Traceback" not in result.stderr
