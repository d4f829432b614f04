"""Nurse-call latency: a terminal's press (MQTT event) to NurseCallRaised on the bus (what the
console shows) and to the "received" notice back on the terminal, through the real service
parts (gateway, nurse-call store on SQLite, bus) - next to a bare echo through the same broker
(a subscriber that answers at once), measured in the same run. Then the ring
(:mod:`bench.nurse_call_rings`): press -> station ringing, badge clear -> every ring stopped,
PBX back -> ring, against the PBX simulator or a real Asterisk (``--asterisk``), next to the
same Originate/Hangup sent bare and to the AMI link's own return.

    python bench/nurse_call_latency.py [--url mqtt://127.0.0.1:1883] [--calls 300]
        [--rings 30] [--restarts 3] [--asterisk /opt/asterisk22/sbin/asterisk] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import aiomqtt

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # bench/ and tests/ as packages

from bedside.contract import NurseCallPressed, parse_notice
from bedside.gateway import TerminalGateway
from bedside.mqtt_link import NO_DELAY, MqttLink, parse_mqtt_url
from bedside.nurse_call import NurseCalls
from bedside.presence import TerminalRegistry
from bedside.topics import Topics
from bench.nurse_call_rings import ring_run
from wardline.bus import EventBus
from wardline.db.engine import Database, upgrade
from wardline.db.models import Bed, Room, Site, Terminal, Ward
from wardline.domain.nurse_call_events import NurseCallRaised


def ring_figures(rings: dict[str, list[float]], peer: str) -> dict[str, object]:
    ms = 1000.0
    out: dict[str, object] = {"ring_peer": peer}
    rows = (
        ("press", "press -> station ringing", "bare_ring", "bare Originate -> ringing"),
        ("clear", "badge clear -> every ring stopped", "bare_stop", "bare Hangup -> stopped"),
        ("back", "PBX back (booted) -> ring again", "link_back", "AMI connect + login"),
    )
    print(f"nurse-call ring against the {peer}")
    for key, label, base, base_label in rows:
        if not rings[key]:
            continue
        p99, b99 = pct(rings[key], 0.99), pct(rings[base], 0.99)
        out[f"{key}_p50_ms"] = round(statistics.median(rings[key]) * ms, 2)
        out[f"{key}_p99_ms"] = round(p99 * ms, 2)
        out[f"{base}_p99_ms"] = round(b99 * ms, 2)
        out[f"ratio_{key}_p99"] = round(p99 / b99, 2) if b99 else None
        print(f"  {label}: p50 {out[f'{key}_p50_ms']} ms, p99 {out[f'{key}_p99_ms']} ms "
              f"({len(rings[key])} runs); {base_label} p99 {out[f'{base}_p99_ms']} ms, "
              f"ratio {out[f'ratio_{key}_p99']}")  # fmt: skip
    return out


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


WARD_BEDS = 30


async def seed(db: Database, beds: int) -> None:
    """Wards of 30 beds, each with its terminal (a notice goes to the whole ward)."""
    async with db.session() as s:
        site = Site(code="B", name="Bench")
        for w in range(0, beds, WARD_BEDS):
            ward = Ward(site=site, code=f"W{w}", name="Bench", nurse_station_extension="2000",
                        escalation=[])  # fmt: skip
            room = Room(ward=ward, code="1")
            for i in range(w, min(beds, w + WARD_BEDS)):
                bed = Bed(room=room, code=str(i), label=f"BENCH-{i}", extension=f"{5000 + i}")
                s.add(Terminal(id=f"TB-{i}", bed=bed))
            s.add(ward)


async def echo_baseline(url: str, topics: Topics, calls: int) -> list[float]:
    addr = parse_mqtt_url(url)
    samples = []

    def client() -> aiomqtt.Client:
        return aiomqtt.Client(addr.host, addr.port, username=addr.username,
                              password=addr.password, socket_options=[NO_DELAY])  # fmt: skip

    async with client() as echo, client() as term:
        await echo.subscribe(topics.all_from_terminals("event"), qos=1)
        await term.subscribe(topics.notify("TE"), qos=1)

        async def answer() -> None:
            async for message in echo.messages:
                await echo.publish(topics.notify("TE"), message.payload, qos=1)

        task = asyncio.create_task(answer())
        replies = aiter(term.messages)
        for i in range(calls):
            start = time.perf_counter()
            payload = NurseCallPressed(source="button", press_id=f"e{i}").to_bytes()
            await term.publish(topics.event("TE"), payload, qos=1)
            await anext(replies)
            samples.append(time.perf_counter() - start)
        task.cancel()
        await asyncio.wait({task}, timeout=1.0)  # aiomqtt's iterator may not end at once
    return samples


@contextlib.asynccontextmanager
async def database_url(postgres: str | None) -> AsyncIterator[str]:
    """A fresh SQLite file, or a temporary database on the PostgreSQL server ``postgres``."""
    if postgres is None:
        folder = Path(tempfile.mkdtemp(prefix="wl-bench-"))
        yield f"sqlite+aiosqlite:///{folder / 'bench.db'}"
        return
    import asyncpg

    name = f"wl_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(postgres)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    base = postgres.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    try:
        yield f"{base}/{name}"
    finally:
        admin = await asyncpg.connect(postgres)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def service_run(
    url: str, topics: Topics, calls: int, db_url: str
) -> tuple[list[float], list[float]]:
    await upgrade(db_url)
    db = Database(db_url)
    await seed(db, calls)
    bus = EventBus()
    raised_at: dict[str, float] = {}

    async def console(event: NurseCallRaised) -> None:
        raised_at[event.bed_label] = time.perf_counter()

    bus.subscribe(NurseCallRaised, console, name="bench.console")
    link = MqttLink(parse_mqtt_url(url), client_id=f"bench-svc-{uuid.uuid4().hex[:6]}")
    registry = TerminalRegistry(db=db, bus=bus, offline_alert_seconds=300)
    nurse_calls = NurseCalls(db=db, bus=bus, link=link, topics=topics)
    gateway = TerminalGateway(topics=topics, registry=registry, nurse_calls=nurse_calls, link=link)
    link.route(gateway.subscriptions(), gateway.on_message)
    await bus.start()
    await link.start()
    await link.wait_connected()
    to_console, to_terminal = [], []
    addr = parse_mqtt_url(url)
    try:
        login = {"username": addr.username, "password": addr.password}
        async with aiomqtt.Client(addr.host, addr.port, socket_options=[NO_DELAY], **login) as term:
            await term.subscribe(f"{topics.root}/terminal/+/notify", qos=1)
            notices = aiter(term.messages)
            for i in range(calls):
                tid = f"TB-{i}"
                start = time.perf_counter()
                payload = NurseCallPressed(source="button", press_id=f"p{i}").to_bytes()
                await term.publish(topics.event(tid), payload, qos=1)
                while True:  # every bed of the ward gets the notice; wait for the caller's
                    message = await anext(notices)
                    if str(message.topic) == topics.notify(tid):
                        assert isinstance(message.payload, bytes)
                        notice = parse_notice(message.payload)
                        if getattr(notice, "bed_label", "") == f"BENCH-{i}":
                            break
                to_terminal.append(time.perf_counter() - start)
                await bus.drain()
                to_console.append(raised_at[f"BENCH-{i}"] - start)
    finally:
        await nurse_calls.close()
        await link.stop()
        await bus.stop()
        await db.dispose()
    return to_console, to_terminal


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="mqtt://127.0.0.1:1883")
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument(
        "--postgres", metavar="ADMIN_URL",
        help="use a temporary database on this PostgreSQL server (default: a SQLite file)",
    )  # fmt: skip
    parser.add_argument("--rings", type=int, default=30, help="presses rung and cleared")
    parser.add_argument("--restarts", type=int, default=3, help="PBX restarts, a call open")
    parser.add_argument(
        "--asterisk", metavar="BINARY",
        help="ring a real Asterisk 22 with a sipp station (default: the PBX simulator)",
    )  # fmt: skip
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    topics = Topics(root=f"bench/{uuid.uuid4().hex[:8]}/v1")
    baseline = await echo_baseline(args.url, topics, args.calls)
    async with database_url(args.postgres) as db_url:
        console, terminal = await service_run(args.url, topics, args.calls, db_url)
    ms = 1000.0
    result: dict[str, object] = {
        "calls": args.calls,
        "database": "postgresql" if args.postgres else "sqlite",
        "console_p50_ms": round(statistics.median(console) * ms, 2),
        "console_p99_ms": round(pct(console, 0.99) * ms, 2),
        "terminal_p50_ms": round(statistics.median(terminal) * ms, 2),
        "terminal_p99_ms": round(pct(terminal, 0.99) * ms, 2),
        "echo_p50_ms": round(statistics.median(baseline) * ms, 2),
        "echo_p99_ms": round(pct(baseline, 0.99) * ms, 2),
    }
    result["ratio_terminal_p99_vs_echo"] = round(pct(terminal, 0.99) / pct(baseline, 0.99), 2)
    engine = "PostgreSQL" if args.postgres else "SQLite"
    print(f"nurse call, {args.calls} presses (one bed each, wards of {WARD_BEDS} terminals, "
          f"{engine})")  # fmt: skip
    print(f"  press -> NurseCallRaised (console): p50 {result['console_p50_ms']} ms, "
          f"p99 {result['console_p99_ms']} ms")  # fmt: skip
    print(f"  press -> 'received' on terminal:    p50 {result['terminal_p50_ms']} ms, "
          f"p99 {result['terminal_p99_ms']} ms")  # fmt: skip
    print(f"  bare broker echo (baseline):        p50 {result['echo_p50_ms']} ms, "
          f"p99 {result['echo_p99_ms']} ms")  # fmt: skip
    print(f"  ratio terminal p99 / echo p99: {result['ratio_terminal_p99_vs_echo']}")
    if args.rings or args.restarts:
        ring_topics = Topics(root=f"bench/{uuid.uuid4().hex[:8]}/v1")
        rings = await ring_run(args.url, ring_topics, args.rings, args.restarts, args.asterisk)
        result.update(ring_figures(rings, "asterisk" if args.asterisk else "simulator"))
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
