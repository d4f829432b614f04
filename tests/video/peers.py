"""Real Janus (Debian's ``janus``, VideoRoom plugin) and coturn (Debian's ``coturn``) started on
127.0.0.1 for one test, in a temporary folder, on free ports.

Janus listens with its WebSocket transport (the browsers' API, token authentication on) and its
WebSocket Admin API (Wardline's, with the admin secret); ICE gathers on the loopback interface
only, so headless Chromium (``--allow-loopback-in-peer-connection``) reaches it without any
other network. coturn uses the REST shared-secret scheme (``use-auth-secret``) and allows
loopback peers, so a relay-only browser reaches Janus through it.

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

JANUS_LIB = Path("/usr/lib/x86_64-linux-gnu/janus")
VIDEOROOM = "janus.plugin.videoroom"
PROTECTED = ", ".join(
    f'"{p}"' for p in ("/bin", "/boot", "/dev", "/etc", "/lib", "/proc", "/sbin", "/sys", "/usr")
)
UNUSED_TRANSPORTS = ",".join(
    f"libjanus_{t}.so" for t in ("http", "mqtt", "nanomsg", "pfunix", "rabbitmq")
)


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
    admin_url: str
    admin_secret: str
    room_admin_key: str
    proc: asyncio.subprocess.Process

    @property
    def pid(self) -> int:
        return int(self.proc.pid)


def janus_config(
    folder: Path,
    *,
    ws_port: int,
    admin_port: int,
    admin_secret: str,
    room_admin_key: str,
    rtp: tuple[int, int],
) -> None:
    """The few files a loopback Janus needs: core, VideoRoom, WebSocket transport."""
    folder.mkdir(parents=True, exist_ok=True)
    unused_plugins = ",".join(
        f"libjanus_{p}.so"
        for p in (
            "audiobridge",
            "duktape",
            "echotest",
            "lua",
            "nosip",
            "recordplay",
            "sip",
            "streaming",
            "textroom",
            "videocall",
            "voicemail",
        )
    )
    (folder / "janus.jcfg").write_text(
        f"""general: {{
    configs_folder = "{folder}"
    plugins_folder = "{JANUS_LIB}/plugins"
    transports_folder = "{JANUS_LIB}/transports"
    events_folder = "{JANUS_LIB}/events"
    loggers_folder = "{JANUS_LIB}/loggers"
    debug_level = 3
    admin_secret = "{admin_secret}"
    token_auth = true
    session_timeout = 60
    protected_folders = [{PROTECTED}]
}}
certificates: {{
}}
media: {{
    rtp_port_range = "{rtp[0]}-{rtp[1]}"
}}
nat: {{
    nice_debug = false
    ignore_mdns = true
    ice_ignore_list = "vmnet,docker,veth,br-"
}}
plugins: {{
    disable = "{unused_plugins}"
}}
transports: {{
    disable = "{UNUSED_TRANSPORTS}"
}}
events: {{
    broadcast = false
}}
loggers: {{
}}
"""
    )
    (folder / "janus.plugin.videoroom.jcfg").write_text(
        f"""general: {{
    admin_key = "{room_admin_key}"
    lock_rtp_forward = true
}}
"""
    )
    (folder / "janus.transport.websockets.jcfg").write_text(
        f"""general: {{
    json = "plain"
    ws = true
    ws_port = {ws_port}
    ws_ip = "127.0.0.1"
    wss = false
}}
admin: {{
    admin_ws = true
    admin_ws_port = {admin_port}
    admin_ws_ip = "127.0.0.1"
    admin_wss = false
}}
"""
    )


@contextlib.asynccontextmanager
async def running_janus(folder: Path) -> AsyncIterator[RunningJanus]:
    binary = need_binary("janus")
    ws_port, admin_port = free_port(), free_port()
    admin_secret, room_admin_key = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    conf = folder / "janus"
    janus_config(
        conf,
        ws_port=ws_port,
        admin_port=admin_port,
        admin_secret=admin_secret,
        room_admin_key=room_admin_key,
        rtp=free_udp_range(200),
    )
    log = folder / "janus.log"
    with (folder / "janus.out").open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            binary,
            "-F",
            str(conf),
            "-C",
            str(conf / "janus.jcfg"),
            "-N",
            "-o",
            "-L",
            str(log),
            stdout=out,
            stderr=asyncio.subprocess.STDOUT,
        )
    try:
        await wait_port(ws_port, proc, log)
        await wait_port(admin_port, proc, log)
        yield RunningJanus(
            f"ws://127.0.0.1:{ws_port}",
            f"ws://127.0.0.1:{admin_port}",
            admin_secret,
            room_admin_key,
            proc,
        )
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 10)
            except TimeoutError:
                proc.kill()
                await proc.wait()


@dataclass
class RunningTurn:
    port: int
    secret: str
    realm: str
    proc: asyncio.subprocess.Process

    @property
    def pid(self) -> int:
        return int(self.proc.pid)


@contextlib.asynccontextmanager
async def running_coturn(folder: Path) -> AsyncIterator[RunningTurn]:
    binary = need_binary("turnserver")
    port = free_port()
    secret, realm = secrets.token_urlsafe(24), "wardline.test"
    low, high = free_udp_range(100)
    log = folder / "turnserver.log"
    conf = folder / "turnserver.conf"
    conf.write_text(
        "\n".join(
            [
                f"listening-port={port}",
                "listening-ip=127.0.0.1",
                f"relay-ip={host_ipv4()}",
                f"min-port={low}",
                f"max-port={high}",
                "use-auth-secret",
                f"static-auth-secret={secret}",
                f"realm={realm}",
                "allow-loopback-peers",
                "no-tls",
                "no-dtls",
                "no-cli",
                "no-multicast-peers",
                "fingerprint",
                f"log-file={log}",
                "simple-log",
                f"pidfile={folder / 'turnserver.pid'}",
                "",
            ]
        )
    )
    with (folder / "turnserver.out").open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            binary,
            "-c",
            str(conf),
            "--no-stdout-log",
            stdout=out,
            stderr=asyncio.subprocess.STDOUT,
        )
    try:
        await wait_port(port, proc, folder / "turnserver.out")
        yield RunningTurn(port, secret, realm, proc)
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 10)
            except TimeoutError:
                proc.kill()
                await proc.wait()


class JanusAdmin:
    """Janus's Admin API over its WebSocket (``janus-admin-protocol``): tokens and, through the
    VideoRoom plugin's ``message_plugin``, rooms. Used by the tests that prove the browser
    module on its own, without Wardline's backend."""

    def __init__(self, janus: RunningJanus) -> None:
        self.janus = janus

    async def request(self, body: dict[str, Any]) -> dict[str, Any]:
        async with (
            aiohttp.ClientSession() as http,
            http.ws_connect(self.janus.admin_url, protocols=("janus-admin-protocol",)) as ws,
        ):
            body = {
                **body,
                "transaction": secrets.token_hex(6),
                "admin_secret": self.janus.admin_secret,
            }
            await ws.send_str(json.dumps(body))
            answer: dict[str, Any] = json.loads((await ws.receive(timeout=10)).data)
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
