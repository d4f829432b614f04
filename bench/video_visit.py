"""Video visit set-up time: the patient accepts on the TV -> the first remote picture on both
sides (the TV and the clinician's staff page), p50/p95 over N visits on loopback, and the CPU
of Wardline and of Janus per visit in the same run.

Real parts: Janus (Debian's ``janus``, VideoRoom) and coturn from ``wardline janus-config``'s
files (tests/video/peers.py), Wardline in a process of its own (SQLite, the web edge and the
video edge), Debian's Chromium with a fake camera and microphone driving the real pages with
the remote's keys (invite from /visits, OK on the TV to accept, Back to end).

Baseline in the same run: two bare pages (loaded) of the same browser module (janus_room.js)
joining a room Janus already has, with tokens already added: join start -> first remote picture
on both sides. The ratio says what Wardline's part (acceptance, the live feed to the staff page, two
join calls with room and token set-up, the pages) adds to WebRTC's own set-up.

CPU: utime+stime from /proc/<pid>/stat of Wardline's process and of Janus's, over the N
visits, divided by N.

    python bench/video_visit.py [--visits 20] [--relay] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

ROOT = Path(__file__).resolve().parent.parent
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, in seconds (/proc/<pid>/stat, fields 14 and 15)."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# --- Wardline, in its own process -------------------------------------------------------


async def serve(config: dict[str, Any]) -> None:
    from aiohttp import web

    from ehr_bridge.adt_message import parse_adt
    from kiosk_ui.component import setup as web_setup
    from kiosk_ui.terminal_auth import issue_credential
    from tests.ehr_bridge.messages import adt
    from video.component import setup as video_setup
    from wardline import appkeys as k
    from wardline.app import build_app
    from wardline.db.engine import Database, upgrade
    from wardline.domain.audit import AuditLog
    from wardline.domain.commands import SYSTEM_ADMIN_CLI
    from wardline.domain.inventory import load_inventory
    from wardline.settings import Settings

    folder = Path(config["folder"])
    db_url = f"sqlite+aiosqlite:///{folder / 'bench.db'}"
    await upgrade(db_url)
    db = Database(db_url)
    await load_inventory(db, ROOT / "examples" / "hospital.yaml", SYSTEM_ADMIN_CLI, AuditLog())
    settings = Settings(
        data_dir=folder,
        session_secret=base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        ami_enabled=False,
        mqtt_enabled=False,
        mllp_enabled=False,
        db_auto_upgrade=False,
        log_level="WARNING",
        **config["settings"],
    )
    app = build_app(settings, database=db, components=[video_setup, web_setup])
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    await app[k.STAYS].apply(parse_adt(adt("A01", "B1")).command, SYSTEM_ADMIN_CLI)
    await app[k.STAFF].add_user(
        SYSTEM_ADMIN_CLI,
        username="dr.weiss",
        display_name="Dr Anna Weiss",
        roles={"clinician"},
        password=config["password"],
        ward_code="CARDIO",
    )
    credential = await issue_credential(db, "T-CARDIO-101-A", audit=app[k.AUDIT])
    print(json.dumps({"base": f"http://127.0.0.1:{port}", "credential": credential}), flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


# --- the run ---------------------------------------------------------------------------


async def first_frames(pages: list[Any], expression: str, deadline: float) -> list[float]:
    """Each page's first remote picture time (ms since the epoch), waiting until ``deadline``."""
    while True:
        values = [await p.evaluate(expression) for p in pages]
        if all(v for v in values):
            return [float(v) for v in values]
        if time.monotonic() > deadline:
            states = [await p.evaluate("() => JSON.stringify(window.probe ?? null)") for p in pages]
            raise RuntimeError(f"no remote picture in time: {values} {states}")
        await asyncio.sleep(0.02)


async def baseline_run(browser: Any, peers: Any, visits: int, relay: bool) -> list[float]:
    from aiohttp import web

    from tests.video.peers import JanusAdmin
    from tests.video.test_janus_module import probe_app

    admin = JanusAdmin(peers.janus)
    out = []
    for i in range(visits):
        room, pin = 900_000 + i, secrets.token_hex(4)
        await admin.create_room(room, pin, secrets.token_hex(8))
        joins = {}
        for who in ("a", "b"):
            token = secrets.token_urlsafe(24)
            await admin.add_token(token)
            ice = []
            if relay:
                from tests.video.media import turn_credentials

                user, password = turn_credentials(peers.turn.secret, f"b{i}{who}")
                ice = [{"urls": peers.turn.urls, "username": user, "credential": password}]
            joins[who] = {
                "janus": {"url": peers.janus.ws_url, "room": room, "pin": pin, "token": token,
                          "display": who},
                "ice_servers": ice,
                "ice_transport_policy": "relay" if relay else "all",
            }  # fmt: skip
        app = probe_app(joins, peers.janus)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        base = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
        pages = [await browser.new_page() for _ in range(2)]
        for page, who in zip(pages, "ab", strict=True):
            await page.goto(f"{base}/probe/{who}?manual=1")
            await page.wait_for_function("() => window.probe && window.probe.start")
        start = time.time() * 1000
        await asyncio.gather(*(p.evaluate("() => window.probe.start()") for p in pages))
        frames = await first_frames(
            pages, "() => window.probe && window.probe.firstFrameAt", time.monotonic() + 30
        )
        out.append((max(frames) - start) / 1000)
        for p in pages:
            await p.evaluate("() => window.probe.leave()")  # TURN allocations released
            await p.close()
        await runner.cleanup()
    return out


async def wardline_run(
    browser: Any, lab: dict[str, Any], password: str, visits: int, pids: dict[str, int]
) -> tuple[list[float], dict[str, float]]:
    tv = await (await browser.new_context(viewport={"width": 1920, "height": 1080})).new_page()
    await tv.goto(lab["base"] + "/tv")
    await tv.fill("#credential", lab["credential"])
    async with tv.expect_navigation():
        await tv.keyboard.press("Enter")
    if not tv.url.endswith("/tv"):
        raise RuntimeError(f"the TV is not enrolled: {tv.url} {(await tv.content())[:1500]}")
    await tv.wait_for_selector("body[data-view='home'][data-visit='']")
    staff = await (await browser.new_context()).new_page()
    await staff.goto(lab["base"] + "/signin")
    await staff.fill("input[name=username]", "dr.weiss")
    await staff.fill("input[name=password]", password)
    async with staff.expect_navigation():
        await staff.keyboard.press("Enter")
    await staff.goto(lab["base"] + "/visits")
    await staff.wait_for_selector("#live-state[data-state='up']")
    cpu0 = {name: cpu_seconds(pid) for name, pid in pids.items()}
    out = []
    for _ in range(visits):
        await staff.click("#visit-send")
        await tv.wait_for_selector("body[data-visit='invited']", timeout=15_000)
        for page in (tv, staff):  # nothing left from the visit before
            await page.evaluate("() => { window.videoFirstFrameAt = undefined; }")
        start = time.time() * 1000
        await tv.keyboard.press("Enter")  # OK on Accept (focused)
        frames = await first_frames(
            [tv, staff], "() => window.videoFirstFrameAt", time.monotonic() + 30
        )
        out.append((max(frames) - start) / 1000)
        await tv.keyboard.press("Escape")  # Back: the visit ends
        await tv.wait_for_selector("body[data-visit='']")
        await staff.wait_for_selector("#visits-page:not([data-in-visit])", timeout=15_000)
        await staff.wait_for_selector("#visit-list tr[data-state='live']", state="detached")
    cpu = {name: (cpu_seconds(pid) - cpu0[name]) / visits for name, pid in pids.items()}
    return out, cpu


async def ready(stdout: asyncio.StreamReader) -> dict[str, Any]:
    """The serving process's address and credential (its logs go by first), then its output
    drained so that it never blocks on a full pipe."""
    while True:
        line = await stdout.readline()
        if not line:
            raise RuntimeError("Wardline's process ended before serving")
        if line.startswith(b'{"base"'):
            asyncio.get_running_loop().create_task(drain(stdout))
            answer: dict[str, Any] = json.loads(line)
            return answer


async def drain(stdout: asyncio.StreamReader) -> None:
    while await stdout.readline():
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visits", type=int, default=20)
    parser.add_argument("--relay", action="store_true", help="relay-only ICE through coturn")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--serve", metavar="CONFIG", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve(json.loads(Path(args.serve).read_text())))
    else:
        asyncio.run(run(args))


async def run(args: argparse.Namespace) -> None:
    from tests.video.media import launch_video_chromium
    from tests.video.peers import running_peers

    folder = Path(tempfile.mkdtemp(prefix="wl-video-bench-"))
    password = secrets.token_urlsafe(12)
    async with running_peers(folder / "peers") as peers:
        config = folder / "serve.json"
        config.write_text(
            json.dumps(
                {
                    "folder": str(folder),
                    "password": password,
                    "settings": peers.settings(relay_only=args.relay),
                }
            )
        )
        child = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--serve", str(config),
            stdout=asyncio.subprocess.PIPE, cwd=str(ROOT),
        )  # fmt: skip
        try:
            assert child.stdout is not None
            lab = await asyncio.wait_for(ready(child.stdout), 60)
            pids = {"wardline": child.pid, "janus": peers.janus.pid}
            async with launch_video_chromium() as browser:
                baseline = await baseline_run(browser, peers, args.visits, args.relay)
                setup, cpu = await wardline_run(browser, lab, password, args.visits, pids)
        finally:
            child.terminate()
            await child.wait()
    load = os.getloadavg()
    result: dict[str, Any] = {
        "visits": args.visits,
        "ice": "relay" if args.relay else "host",
        "accept_to_first_frame_p50_s": round(statistics.median(setup), 3),
        "accept_to_first_frame_p95_s": round(pct(setup, 0.95), 3),
        "accept_to_first_frame_max_s": round(max(setup), 3),
        "bare_janus_p50_s": round(statistics.median(baseline), 3),
        "bare_janus_p95_s": round(pct(baseline, 0.95), 3),
        "ratio_p95_vs_bare": round(pct(setup, 0.95) / pct(baseline, 0.95), 2),
        "wardline_cpu_ms_per_visit": round(cpu["wardline"] * 1000, 1),
        "janus_cpu_ms_per_visit": round(cpu["janus"] * 1000, 1),
        "target_p95_s": 2.0,
        "met": pct(setup, 0.95) < 2.0,
        "load_average": [round(x, 2) for x in load],
    }
    print(f"video visit, {args.visits} visits, ICE {result['ice']}, load average {load[0]:.2f}")
    print(f"  accepted on the TV -> first remote picture on both sides: "
          f"p50 {result['accept_to_first_frame_p50_s']} s, "
          f"p95 {result['accept_to_first_frame_p95_s']} s (target < 2 s)")  # fmt: skip
    print(f"  bare janus_room.js, two pages, room and tokens ready:   "
          f"p50 {result['bare_janus_p50_s']} s, p95 {result['bare_janus_p95_s']} s")  # fmt: skip
    print(f"  ratio p95 / bare p95: {result['ratio_p95_vs_bare']}")
    print(f"  CPU per visit (invite, accept, two joins, media until both see, end): "
          f"Wardline {result['wardline_cpu_ms_per_visit']} ms, "
          f"Janus {result['janus_cpu_ms_per_visit']} ms")  # fmt: skip
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
