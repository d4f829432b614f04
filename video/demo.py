"""The demo's video visits: when Debian's ``janus`` and ``coturn`` are installed, a private
Janus and coturn on 127.0.0.1 (free ports, secrets drawn at each start, configuration written by
the generator into the demo's data directory) and, once the demo TV's bed has a patient, an
invitation from the demo clinician with one guest. Without them the demo runs as before and
says how to turn video on."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import shutil
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import structlog

from video.config import JanusConfig, debian_lib_dir, render, write
from wardline import appkeys as k
from wardline.domain.video_port import Caller, StartedVisit

log = structlog.get_logger(__name__)
HOW_TO_ENABLE = (
    "Video visits: off (Janus and coturn are not installed): `sudo apt-get install janus coturn` "
    "and start the demo again."
)


def _free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def installed() -> bool:
    return shutil.which("janus") is not None and shutil.which("turnserver") is not None


def _config(folder: Path) -> JanusConfig:
    low = 30000 + secrets.randbelow(80) * 100
    return JanusConfig(
        api_secret=secrets.token_urlsafe(24),
        admin_secret=secrets.token_urlsafe(24),
        room_admin_key=secrets.token_urlsafe(24),
        turn_secret=secrets.token_urlsafe(24),
        config_dir=str(folder.resolve()),
        lib_dir=debian_lib_dir(),
        http_port=_free_port(),
        admin_port=_free_port(),
        ws_port=_free_port(),
        rtp_ports=f"{low}-{low + 99}",
        ice_enforce="lo",
        turn_port=_free_port(socket.SOCK_DGRAM),
        turn_relay_ports=(low + 8100, low + 8199),
        turn_loopback_peers=True,
        debug_level=2,
    )


def _prepare(folder: Path) -> JanusConfig:
    config = _config(folder)
    write(folder, render(config))  # write() creates the folder
    return config


def settings_for(c: JanusConfig) -> dict[str, Any]:
    turn = f"turn:127.0.0.1:{c.turn_port}"
    return {
        "video_enabled": True,
        "janus_api_url": f"http://127.0.0.1:{c.http_port}/janus",
        "janus_admin_url": f"http://127.0.0.1:{c.admin_port}/admin",
        "janus_api_secret": c.api_secret,
        "janus_admin_secret": c.admin_secret,
        "janus_room_admin_key": c.room_admin_key,
        "janus_browser_ws_url": f"ws://127.0.0.1:{c.ws_port}/",
        "turn_urls": [f"{turn}?transport=udp", f"{turn}?transport=tcp"],
        "turn_secret": c.turn_secret,
    }


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is not None:
        return
    process.terminate()
    try:
        await asyncio.wait_for(process.wait(), 10)
    except TimeoutError:
        process.kill()
        await process.wait()


@asynccontextmanager
async def demo_gateways(folder: Path, wanted: bool = True) -> AsyncIterator[dict[str, Any] | None]:
    """Janus and coturn running for the demo: the ``Settings`` keywords that use them, or
    None when they are not installed (or not wanted) or Janus does not start."""
    if not wanted or not installed():
        yield None
        return
    config = _prepare(folder)
    janus_log = (folder / "janus.log").open("wb")
    turn_log = (folder / "turnserver.log").open("wb")
    janus = await asyncio.create_subprocess_exec(
        "janus",
        "-C",
        str(folder / "janus.jcfg"),
        "-F",
        config.config_dir,
        stdout=janus_log,
        stderr=asyncio.subprocess.STDOUT,
    )
    turn = await asyncio.create_subprocess_exec(
        "turnserver",
        "-c",
        str(folder / "turnserver.conf"),
        "--log-file",
        "stdout",
        "--pidfile",
        str(folder / "turnserver.pid"),
        "--userdb",
        str(folder / "turndb"),
        stdout=turn_log,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        up = await _janus_answers(f"http://127.0.0.1:{config.http_port}/janus", janus)
        if not up:
            log.warning("demo.video_janus_failed", log=str(folder / "janus.log"))
        yield settings_for(config) if up else None
    finally:
        await _stop(janus)
        await _stop(turn)
        janus_log.close()
        turn_log.close()


async def _janus_answers(url: str, process: asyncio.subprocess.Process) -> bool:
    async with aiohttp.ClientSession() as http:
        for _ in range(150):
            if process.returncode is not None:
                return False
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with http.get(url + "/info", timeout=aiohttp.ClientTimeout(total=1)) as r:
                    if r.status == 200:
                        return True
            await asyncio.sleep(0.1)
    return False


async def invite_when_admitted(
    app: Any, bed: str, clinician: Caller, tick: float, tries: int = 100
) -> StartedVisit | None:
    """Once the bed has a patient, a visit from the demo clinician with one guest (the TV shows
    the invitation; the guest's link and code are printed)."""
    port = app.get(k.VIDEO_VISITS)
    if port is None:
        return None
    for _ in range(tries):
        if await app[k.STAYS].stay_for_bed(bed) is not None:
            started: StartedVisit = await port.start(clinician, bed, [], ["Famille (démo)"])
            return started
        await asyncio.sleep(tick)
    return None
