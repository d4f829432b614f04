"""Real Janus and coturn for the tests, started from ``wardline janus-config``'s renderer in a
temporary directory on 127.0.0.1 with free ports (video-web's browser tests use them too).

A missing binary skips the test, or fails it under ``WARDLINE_REQUIRE_SERVICES=1`` (CI)."""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
import shutil
import socket
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.services import services_required
from video import janus_messages as jm
from video.config import JanusConfig, debian_lib_dir, render, write
from video.janus_client import JanusSession


def need_binary(name: str, package: str) -> str:
    path = shutil.which(name) or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else None)
    if path:
        return path
    message = f"{name} is not installed (apt-get install -y {package})"
    if services_required():
        pytest.fail(message + " (WARDLINE_REQUIRE_SERVICES=1)")
    pytest.skip(message)


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def secret() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(18)).decode().rstrip("=")


@dataclass
class Gateways:
    """A running Janus (and coturn): URLs and the secrets Wardline's settings need."""

    config: JanusConfig
    janus: subprocess.Popen[bytes]
    turn: subprocess.Popen[bytes] | None
    folder: Path

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.config.http_port}/janus"

    @property
    def admin_url(self) -> str:
        return f"http://127.0.0.1:{self.config.admin_port}/admin"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.config.ws_port}/"

    @property
    def turn_urls(self) -> list[str]:
        port = self.config.turn_port
        return [f"turn:127.0.0.1:{port}?transport=udp", f"turn:127.0.0.1:{port}?transport=tcp"]

    def settings(self) -> dict[str, Any]:
        """``Settings`` keyword arguments for a Wardline using these gateways."""
        c = self.config
        return {
            "video_enabled": True,
            "janus_api_url": self.api_url,
            "janus_admin_url": self.admin_url,
            "janus_api_secret": c.api_secret,
            "janus_admin_secret": c.admin_secret,
            "janus_room_admin_key": c.room_admin_key,
            "janus_browser_ws_url": self.ws_url,
            "turn_urls": self.turn_urls,
            "turn_secret": c.turn_secret,
            "turn_realm": c.turn_realm,
        }

    async def restart_janus(self) -> None:
        """Janus stopped and started again on the same ports: it has forgotten every room and
        token (Wardline must rebuild them from its database)."""
        _stop(self.janus)
        self.janus = _spawn_janus(
            shutil.which("janus") or "/usr/bin/janus", self.folder, self.config
        )
        await _wait_janus(self.api_url, self.janus, self.folder)

    def log(self) -> str:
        return (self.folder / "janus.log").read_text(errors="replace")[-4000:]


async def _wait_janus(url: str, process: subprocess.Popen[bytes], folder: Path) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(200):
            if process.poll() is not None:
                raise RuntimeError("janus exited: " + (folder / "janus.log").read_text()[-2000:])
            try:
                async with http.get(url + "/info", timeout=aiohttp.ClientTimeout(total=1)) as r:
                    if r.status == 200:
                        return
            except (aiohttp.ClientError, TimeoutError):
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("janus did not answer: " + (folder / "janus.log").read_text()[-2000:])


def _stop(process: subprocess.Popen[bytes] | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _spawn_janus(binary: str, folder: Path, config: JanusConfig) -> subprocess.Popen[bytes]:
    folder.mkdir(parents=True, exist_ok=True)
    write(folder, render(config))
    with (folder / "janus.log").open("wb") as log:
        return subprocess.Popen(
            [binary, "-C", str(folder / "janus.jcfg"), "-F", str(folder)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ},
        )


def _spawn_turn(binary: str, folder: Path) -> subprocess.Popen[bytes]:
    with (folder / "turn.log").open("wb") as log:
        return subprocess.Popen(
            [
                binary,
                "-c",
                str(folder / "turnserver.conf"),
                "--log-file",
                "stdout",
                "--pidfile",
                str(folder / "turn.pid"),
                "--userdb",
                str(folder / "turndb"),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )


@asynccontextmanager
async def running_gateways(
    folder: Path, *, with_turn: bool = True, **config: Any
) -> AsyncIterator[Gateways]:
    janus_bin = need_binary("janus", "janus")
    turn_bin = need_binary("turnserver", "coturn") if with_turn else None
    low = 20000 + secrets.randbelow(200) * 100
    values: dict[str, Any] = {
        "api_secret": secret(),
        "admin_secret": secret(),
        "room_admin_key": secret(),
        "turn_secret": secret(),
        "config_dir": str(folder),
        "lib_dir": debian_lib_dir(),
        "http_port": free_port(),
        "admin_port": free_port(),
        "ws_port": free_port(),
        "rtp_ports": f"{low}-{low + 99}",
        "ice_enforce": "lo",
        "turn_port": free_port(socket.SOCK_DGRAM),
        "turn_relay_ports": (low + 100, low + 199) if low + 199 < 40000 else (40000, 40099),
        "turn_loopback_peers": True,
        "debug_level": 3,
        **config,
    }
    janus_config = JanusConfig(**values)
    janus = _spawn_janus(janus_bin, folder, janus_config)
    turn = None
    running: Gateways | None = None
    try:
        await _wait_janus(f"http://127.0.0.1:{janus_config.http_port}/janus", janus, folder)
        if turn_bin is not None:
            turn = _spawn_turn(turn_bin, folder)
        running = Gateways(janus_config, janus, turn, folder)
        yield running
    finally:
        _stop(running.janus if running is not None else janus)
        _stop(turn)


async def join_as(
    http: aiohttp.ClientSession,
    g: Gateways,
    token: str,
    room: jm.RoomSpec,
    pin: str | None = None,
    feed_id: int = 22,
) -> dict[str, Any]:
    """A browser-less participant: session and handle with its token, then a publisher join;
    the plugin's answer (``joined``, or the error)."""
    session = JanusSession(http, g.api_url, token=token)
    await session.open()
    try:
        ack = await session.send(
            jm.join_publisher(room.room, pin or room.pin, "Anne", feed_id, token)
        )
        assert ack["janus"] == "ack", ack
        event = await session.next_event()
        data = event["plugindata"]["data"]
        assert isinstance(data, dict)
        return data
    finally:
        await session.close()
