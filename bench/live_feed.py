"""Live feed benchmark: AMI event -> WebSocket delivery on open consoles, and the console's
first render with every lamp of a 2,000-bed hospital.

The bench process runs the PBX simulator (the AMI side) and the console clients; the server
under test runs in its own process (``--serve``), so the generator and the clients do not
share its event loop. Both sides read ``time.perf_counter`` of the same process: an event's
latency is its arrival on a console's WebSocket minus the moment the simulator wrote it.

- ``wardline``: the whole path: AMI decoding, call/phone state, domain event on the bus, the
  live feed's role-filtered topics, JSON, WebSocket (``/ws?topics=phones``, signed-in sessions);
- ``baseline`` (same run, same generator and clients): a bare aiohttp server that reads the
  AMI stream, splits messages and forwards each as JSON to every WebSocket, nothing else.

Target: p99 under 20 ms at 2,000 events/s on 5 consoles.

Rounds alternate baseline and wardline (the machine is shared); each keeps its best round.

    python bench/live_feed.py [--rate 2000] [--seconds 5] [--consoles 5] [--rounds 2] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import gc
import json
import logging
import statistics
import sys
import tempfile
import time
from collections import defaultdict, deque
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
HOSPITAL_2000 = ROOT / "examples" / "hospital-2000.yaml"
PASSWORD = "bench-password-1"
STATES = ("INUSE", "NOT_INUSE")
PHONE = {"INUSE": "in_use", "NOT_INUSE": "idle"}


# --- the servers under test (child process) ---------------------------------------------------
async def serve_wardline(ami_port: int, folder: Path) -> None:
    from aiohttp import web

    from kiosk_ui.component import setup as web_setup
    from telephony.component import setup as telephony_setup
    from wardline import appkeys as k
    from wardline.app import build_app
    from wardline.db.engine import upgrade
    from wardline.domain.commands import SYSTEM_ADMIN_CLI
    from wardline.domain.inventory import load_inventory
    from wardline.settings import Settings

    url = f"sqlite+aiosqlite:///{folder / 'bench.db'}"
    await upgrade(url)
    settings = Settings(
        data_dir=folder,
        database_url=url,
        session_secret=base64.urlsafe_b64encode(b"b" * 32).decode(),
        ami_port=ami_port,
        ami_secret="wardline-secret",
        mqtt_enabled=False,
        mllp_enabled=False,
        db_auto_upgrade=False,
    )
    app = build_app(settings, components=[telephony_setup, web_setup])
    await load_inventory(app[k.DATABASE], HOSPITAL_2000, SYSTEM_ADMIN_CLI, app[k.AUDIT])
    await app[k.STAFF].add_user(
        SYSTEM_ADMIN_CLI,
        username="bench",
        display_name="Bench",
        roles={"switchboard"},
        password=PASSWORD,
    )
    await _run(app, web)


async def serve_baseline(ami_port: int, folder: Path) -> None:
    from aiohttp import web

    sockets: set[web.WebSocketResponse] = set()

    async def ws_handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        sockets.add(ws)
        await ws.send_str('{"topic":"snapshot"}')
        async for _ in ws:
            pass
        sockets.discard(ws)
        return ws

    async def ami_reader(app: web.Application) -> Any:
        reader, writer = await asyncio.open_connection("127.0.0.1", ami_port)
        await reader.readline()
        writer.write(b"Action: Login\r\nUsername: wardline\r\nSecret: wardline-secret\r\n\r\n")

        async def pump() -> None:
            while True:
                block = await reader.readuntil(b"\r\n\r\n")
                fields = dict(
                    line.split(": ", 1) for line in block.decode().split("\r\n") if ": " in line
                )
                if fields.get("Event") != "DeviceStateChange":
                    continue
                text = json.dumps({"topic": "phones", "data": fields})
                for ws in list(sockets):
                    await ws.send_str(text)

        task = asyncio.create_task(pump())
        yield
        task.cancel()
        writer.close()

    app = web.Application()
    app.router.add_get("/ws", ws_handler)
    app.cleanup_ctx.append(ami_reader)
    await _run(app, web)


async def _run(app: Any, web: Any) -> None:
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    print(f"PORT {port}", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until EOF
    await runner.cleanup()


# --- the bench side (parent process) ----------------------------------------------------------
async def start_server(kind: str, ami_port: int, folder: Path) -> tuple[Any, int]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--serve",
        kind,
        "--ami-port",
        str(ami_port),
        "--folder",
        str(folder),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    while True:
        line = (await asyncio.wait_for(proc.stdout.readline(), 120)).decode()
        if not line:
            raise RuntimeError(f"the {kind} server did not start")
        if line.startswith("PORT "):
            return proc, int(line.split()[1])


async def stop_server(proc: Any) -> None:
    proc.stdin.close()
    try:
        await asyncio.wait_for(proc.wait(), 10)
    except TimeoutError:
        proc.kill()
        await proc.wait()


async def console_clients(kind: str, base: str, count: int) -> tuple[list[Any], list[Any]]:
    import aiohttp

    sessions, sockets = [], []
    for _ in range(count):
        http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        sessions.append(http)
        path = "/ws"
        if kind == "wardline":
            state = await (await http.get(base + "/api/v1/session")).json()
            r = await http.post(
                base + "/api/v1/session",
                json={"username": "bench", "password": PASSWORD},
                headers={"X-CSRF-Token": state["csrf_token"]},
            )
            assert r.status == 200, await r.text()
            path = "/ws?topics=phones"
        ws = await http.ws_connect(base.replace("http", "ws") + path, max_msg_size=0)
        await ws.receive()  # the snapshot
        sockets.append(ws)
    return sessions, sockets


async def measure(kind: str, sim: Any, base: str, args: argparse.Namespace) -> dict[str, Any]:
    sessions, sockets = await console_clients(kind, base, args.consoles)
    extensions = [str(2001 + i) for i in range(100)]
    sent_per_client: list[dict[str, deque[float]]] = [defaultdict(deque) for _ in sockets]
    latencies: list[float] = []
    total = int(args.rate * args.seconds)
    received = 0
    done = asyncio.Event()

    async def reader(i: int, ws: Any) -> None:
        nonlocal received
        queues = sent_per_client[i]
        async for msg in ws:
            now = time.perf_counter()
            text = msg.data
            at = text.find(marker)
            if at < 0:
                continue
            ext = text[at + len(marker) : text.index('"', at + len(marker))]
            queue = queues.get(ext)
            if queue:
                latencies.append(now - queue.popleft())
            received += 1
            if received >= total * len(sockets):
                done.set()

    # the consoles find the phone without decoding the whole message: less client-side noise
    marker = '"extension":"' if kind == "wardline" else '"Device": "PJSIP/'
    readers = [asyncio.create_task(reader(i, ws)) for i, ws in enumerate(sockets)]
    # prime: every phone to idle first (a state change is published only when it changes)
    for ext in extensions:
        sim._broadcast(
            "DeviceStateChange", [("Device", f"PJSIP/{ext}"), ("State", "UNKNOWN")], "call"
        )
    await asyncio.sleep(1.0)
    latencies.clear()
    received = 0
    for q in sent_per_client:
        q.clear()
    gc.collect()
    gc.disable()  # the bench side's collections would count as delivery latency
    tick = 0.005
    per_tick = max(1, round(args.rate * tick))
    loop = asyncio.get_running_loop()
    start = loop.time()
    for n in range(0, total, per_tick):
        await asyncio.sleep(max(0.0, start + (n / args.rate) - loop.time()))
        for i in range(n, min(n + per_tick, total)):
            ext = extensions[i % len(extensions)]
            state = STATES[(i // len(extensions)) % 2]
            stamp = time.perf_counter()
            for q in sent_per_client:
                q[ext].append(stamp)
            sim._broadcast(
                "DeviceStateChange", [("Device", f"PJSIP/{ext}"), ("State", state)], "call"
            )
    elapsed = loop.time() - start
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(done.wait(), 10)
    gc.enable()
    for task in readers:
        task.cancel()
    for ws in sockets:
        await ws.close()
    for http in sessions:
        await http.close()
    latencies.sort()
    ms = [x * 1000 for x in latencies]
    return {
        "events": total,
        "rate_sent": round(total / elapsed),
        "delivered": len(ms),
        "expected": total * len(sockets),
        "p50_ms": round(statistics.median(ms), 2) if ms else None,
        "p99_ms": round(ms[int(len(ms) * 0.99) - 1], 2) if ms else None,
        "max_ms": round(ms[-1], 2) if ms else None,
    }


async def first_render(base: str, rounds: int = 10) -> dict[str, Any]:
    import aiohttp

    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        state = await (await http.get(base + "/api/v1/session")).json()
        await http.post(
            base + "/api/v1/session",
            json={"username": "bench", "password": PASSWORD},
            headers={"X-CSRF-Token": state["csrf_token"]},
        )
        timings: dict[str, list[float]] = {"/console": [], "/signin": []}
        size, lamps = 0, 0
        for _ in range(rounds):
            for path in timings:
                t0 = time.perf_counter()
                r = await http.get(base + path)
                body = await r.text()
                timings[path].append(time.perf_counter() - t0)
                if path == "/console":
                    size, lamps = len(body), body.count('class="lamp" data-ext=')
    console = statistics.median(timings["/console"]) * 1000
    signin = statistics.median(timings["/signin"]) * 1000
    return {
        "lamps": lamps,
        "html_kib": round(size / 1024),
        "console_ms": round(console, 1),
        "baseline_signin_ms": round(signin, 1),
        "ratio": round(console / signin, 1),
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    from telephony.simulator.server import PbxSimulator

    logging.disable(logging.CRITICAL)
    out: dict[str, Any] = {
        "rate": args.rate,
        "seconds": args.seconds,
        "consoles": args.consoles,
        "rounds": args.rounds,
    }
    runs: dict[str, list[dict[str, Any]]] = {"baseline": [], "wardline": []}
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(args.rounds):
            for kind in ("baseline", "wardline"):  # alternated: both see the same machine
                sim = await PbxSimulator().start()
                folder = Path(tmp) / f"{kind}-{n}"
                folder.mkdir()
                proc, port = await start_server(kind, sim.port, folder)
                base = f"http://127.0.0.1:{port}"
                try:
                    await asyncio.sleep(1.0)  # the AMI login and resync
                    runs[kind].append(await measure(kind, sim, base, args))
                    if kind == "wardline" and n == 0:
                        out["first_render"] = await first_render(base)
                finally:
                    await stop_server(proc)
                    await sim.stop()
    for kind, results in runs.items():  # the best round: the least disturbed by neighbours
        out[kind] = min(results, key=lambda r: r["p99_ms"] or float("inf"))
        out[kind]["p99_ms_rounds"] = [r["p99_ms"] for r in results]
    w, b = out["wardline"], out["baseline"]
    if w["p99_ms"] and b["p99_ms"]:
        out["p99_ratio"] = round(w["p99_ms"] / b["p99_ms"], 2)
    out["p99_target_ms"] = 20
    out["p99_met"] = bool(w["p99_ms"] is not None and w["p99_ms"] < 20)
    return out


def report(out: dict[str, Any]) -> None:
    print(
        f"AMI -> WebSocket, {out['rate']} events/s for {out['seconds']} s, "
        f"{out['consoles']} consoles"
    )
    for kind in ("baseline", "wardline"):
        r = out[kind]
        print(
            f"  {kind:9} sent {r['rate_sent']}/s delivered {r['delivered']}/{r['expected']}"
            f"  p50 {r['p50_ms']} ms  p99 {r['p99_ms']} ms  max {r['max_ms']} ms"
        )
    print(
        f"  p99 ratio wardline/baseline: {out.get('p99_ratio')}  "
        f"(target p99 < 20 ms: {'met' if out['p99_met'] else 'NOT met'})"
    )
    f = out["first_render"]
    print(
        f"console first render: {f['lamps']} lamps, {f['html_kib']} KiB in "
        f"{f['console_ms']} ms (sign-in page baseline {f['baseline_signin_ms']} ms, "
        f"x{f['ratio']})"
    )


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--consoles", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2, help="alternated rounds; best kept")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--serve", choices=("wardline", "baseline"))
    parser.add_argument("--ami-port", type=int)
    parser.add_argument("--folder", type=Path)
    args = parser.parse_args()
    if args.serve:
        logging.disable(logging.CRITICAL)
        import structlog

        structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL))
        serve = serve_wardline if args.serve == "wardline" else serve_baseline
        asyncio.run(serve(args.ami_port, args.folder))
        return
    out = asyncio.run(main(args))
    report(out)
    if args.json:
        print(json.dumps(out))


if __name__ == "__main__":
    cli()
