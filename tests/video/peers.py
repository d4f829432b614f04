"""Real Janus (Debian's ``janus``, VideoRoom plugin) and coturn (Debian's ``coturn``) started
for one test from the files ``wardline janus-config`` renders (``video.config``), in a temporary
folder, their APIs on free 127.0.0.1 ports.

Janus's APIs listen on 127.0.0.1: WebSocket (browsers, token authentication), HTTP (Wardline,
``api_secret``) and the HTTP Admin API (``admin_secret``). Its ICE candidates are the machine's
own addresses: Janus 1.1 skips loopback interfaces when it gathers (an ``ice_enforce_list`` of
``lo`` is ignored), so media go between this machine's addresses and never leave it. coturn
listens on 127.0.0.1 with the REST shared-secret scheme (``use-auth-secret``) and relays from
the machine's address (``relay-ip``), so that a relay-only browser reaches Janus through it.

A missing binary skips the test, and fails it with ``WARDLINE_REQUIRE_SERVICES=1``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import shutil
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.services import services_required
from video.config import JanusConfig, render, write

VIDEOROOM = "janus.plugin.videoroom"


def need_binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed"
        if services_required():
            pytest.fail(message + " (WARDLINE_REQUIRE_SERVICES=1)")
        pytest.skip(message)
    return path


def host_ipv4() -> str:
    """The machine's own IPv4 address on its default route (no packet is sent), else loopback.

    Janus 1.1 never gathers ICE candidates on a loopback interface (its interface filter skips
    them), so its media ports are on the machine's own addresses; coturn relays from the same
    address, and everything stays inside this machine."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("10.254.254.254", 9))
            return str(s.getsockname()[0])
        except OSError:
            return "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_udp_range(size: int) -> tuple[int, int]:
    """A run of ``size`` UDP ports free now (a random start in the high range)."""
    for _ in range(200):
        start = 20000 + secrets.randbelow(30000)
        socks: list[socket.socket] = []
        try:
            for port in range(start, start + size):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(s)
                s.bind(("0.0.0.0", port))
            return start, start + size - 1
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free UDP port range")


def tail(log: Path) -> str:
    return log.read_text(errors="replace")[-2000:] if log.exists() else ""


async def wait_port(port: int, proc: asyncio.subprocess.Process, log: Path) -> None:
    for _ in range(300):
        if proc.returncode is not None:
            raise RuntimeError(f"exited {proc.returncode}: {tail(log)}")
        with contextlib.suppress(OSError):
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        await asyncio.sleep(0.05)
    raise RuntimeError(f"port {port} never opened: {tail(log)}")


@dataclass
class RunningJanus:
    ws_url: str
    """The browsers' API (WebSocket, ``janus-protocol``, tokens)."""
    api_url: str
    """Wardline's API (HTTP, ``api_secret``)."""
    admin_url: str
    api_secret: str
    admin_secret: str
    room_admin_key: str
    proc: asyncio.subprocess.Process

    @property
    def pid(self) -> int:
        return int(self.proc.pid)


@dataclass
class RunningTurn:
    port: int
    secret: str
    realm: str
    proc: asyncio.subprocess.Process

    @property
    def pid(self) -> int:
        return int(self.proc.pid)

    @property
    def urls(self) -> list[str]:
        return [f"turn:127.0.0.1:{self.port}?transport=udp"]


@dataclass
class VideoPeers:
    janus: RunningJanus
    turn: RunningTurn
    config: JanusConfig
    folder: Path

    async def restart_janus(self) -> None:
        """Janus stopped and started again on the same ports (it forgets rooms and tokens)."""
        await _stop(self.janus.proc)
        self.janus.proc = await _spawn_janus(self.folder, self.config)
        for port in (self.config.ws_port, self.config.http_port, self.config.admin_port):
            await wait_port(port, self.janus.proc, self.folder / "janus.log")

    def settings(self, *, relay_only: bool = False) -> dict[str, Any]:
        """``Settings`` keyword arguments for a Wardline using these peers."""
        return {
            "video_enabled": True,
            "janus_api_url": self.janus.api_url,
            "janus_admin_url": self.janus.admin_url,
            "janus_api_secret": self.janus.api_secret,
            "janus_admin_secret": self.janus.admin_secret,
            "janus_room_admin_key": self.janus.room_admin_key,
            "janus_browser_ws_url": self.janus.ws_url,
            "turn_urls": self.turn.urls,
            "turn_secret": self.turn.secret,
            "turn_realm": self.turn.realm,
            "video_relay_only": relay_only,
        }


def peers_config(folder: Path) -> JanusConfig:
    """``wardline janus-config``'s configuration on free loopback ports, with fresh secrets."""
    rtp, relay = free_udp_range(200), free_udp_range(500)
    return JanusConfig(
        api_secret=secrets.token_urlsafe(18),
        admin_secret=secrets.token_urlsafe(18),
        room_admin_key=secrets.token_urlsafe(18),
        turn_secret=secrets.token_urlsafe(24),
        config_dir=str(folder),
        bind="127.0.0.1",
        http_port=free_port(),
        admin_port=free_port(),
        ws_port=free_port(),
        rtp_ports=f"{rtp[0]}-{rtp[1]}",
        turn_realm="wardline.test",
        turn_bind="127.0.0.1",
        turn_relay_ip=host_ipv4(),
        turn_port=free_port(),
        turn_relay_ports=relay,
        turn_loopback_peers=True,
        debug_level=3,
    )


async def _stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 10)
        except TimeoutError:
            proc.kill()
            await proc.wait()


async def _spawn_janus(folder: Path, config: JanusConfig) -> asyncio.subprocess.Process:
    conf_dir = Path(config.config_dir)
    with (folder / "janus.out").open("ab") as out:
        return await asyncio.create_subprocess_exec(
            need_binary("janus"),
            "-F",
            str(conf_dir),
            "-C",
            str(conf_dir / "janus.jcfg"),
            "-N",
            "-o",
            "-L",
            str(folder / "janus.log"),
            stdout=out,
            stderr=asyncio.subprocess.STDOUT,
        )


@contextlib.asynccontextmanager
async def running_peers(folder: Path) -> AsyncIterator[VideoPeers]:
    """Janus and coturn from the files ``wardline janus-config`` renders (video.config)."""
    need_binary("janus")
    turn_bin = need_binary("turnserver")
    conf_dir = folder / "video-conf"
    config = peers_config(conf_dir)
    files = render(config)
    # coturn relays from the address Janus's candidates are on (Janus never gathers on
    # loopback): peers_config sets relay-ip to the machine's own address.
    files["turnserver.conf"] = (
        files["turnserver.conf"]
        + f"log-file={folder / 'turnserver.log'}\nsimple-log\npidfile={folder / 'turn.pid'}\n"
    )
    write(conf_dir, files)
    janus_log = folder / "janus.log"
    janus = await _spawn_janus(folder, config)
    with (folder / "turnserver.out").open("wb") as out:
        turn = await asyncio.create_subprocess_exec(
            turn_bin,
            "-c",
            str(conf_dir / "turnserver.conf"),
            "--no-stdout-log",
            "--userdb",
            str(folder / "turndb"),
            stdout=out,
            stderr=asyncio.subprocess.STDOUT,
        )
    peers: VideoPeers | None = None
    try:
        for port in (config.ws_port, config.http_port, config.admin_port):
            await wait_port(port, janus, janus_log)
        await wait_port(config.turn_port, turn, folder / "turnserver.log")
        peers = VideoPeers(
            RunningJanus(
                ws_url=f"ws://127.0.0.1:{config.ws_port}",
                api_url=f"http://127.0.0.1:{config.http_port}/janus",
                admin_url=f"http://127.0.0.1:{config.admin_port}/admin",
                api_secret=config.api_secret,
                admin_secret=config.admin_secret,
                room_admin_key=config.room_admin_key,
                proc=janus,
            ),
            RunningTurn(config.turn_port, config.turn_secret, config.turn_realm, turn),
            config,
            folder,
        )
        yield peers
    finally:
        await _stop(peers.janus.proc if peers else janus)
        await _stop(turn)


class JanusAdmin:
    """Janus's Admin API over HTTP: tokens and, through the
    VideoRoom plugin's ``message_plugin``, rooms. Used by the tests that prove the browser
    module on its own, without Wardline's backend."""

    def __init__(self, janus: RunningJanus) -> None:
        self.janus = janus

    async def request(self, body: dict[str, Any]) -> dict[str, Any]:
        body = {
            **body,
            "transaction": secrets.token_hex(6),
            "admin_secret": self.janus.admin_secret,
        }
        async with (
            aiohttp.ClientSession() as http,
            http.post(self.janus.admin_url, data=json.dumps(body)) as response,
        ):
            answer: dict[str, Any] = json.loads(await response.text())
        if answer.get("janus") != "success":
            raise RuntimeError(f"Janus refused {body['janus']}: {answer}")
        return answer

    async def add_token(self, token: str) -> None:
        await self.request({"janus": "add_token", "token": token, "plugins": [VIDEOROOM]})

    async def create_room(self, room: int, pin: str, secret: str) -> None:
        answer = await self.request(
            {
                "janus": "message_plugin",
                "plugin": VIDEOROOM,
                "request": {
                    "request": "create",
                    "admin_key": self.janus.room_admin_key,
                    "room": room,
                    "pin": pin,
                    "secret": secret,
                    "publishers": 4,
                    "is_private": True,
                    "audiocodec": "opus",
                    "videocodec": "vp8",
                    "permanent": False,
                },
            }
        )
        data = answer.get("response", {})
        if data.get("videoroom") != "created":
            raise RuntimeError(f"room not created: {answer}")
