"""Nurse call under a flood: a terminal's press -> NurseCallRaised (what the console shows)
while another terminal floods 10,000 bad messages, next to the same presses without a flood,
measured in the same run, through the real service parts (link, gateway, nurse calls on
SQLite, bus) and a Mosquitto of our own started from the generated configuration.

    python bench/nurse_call_flood.py [--junk 10000] [--rounds 3] [--calls 10] [--json]

The flood mixes the junk of the issue: 16 KiB of nested brackets (RecursionError in
``json.loads``), oversized payloads, not JSON, wrong schema, wrong version. Before the
terminal intake (one queue and one handler for all, an error notice awaited for each bad
payload) a nurse call waited about 30 s behind 10,000 of them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import json
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiomqtt

from bedside.broker_config import (
    Credentials,
    ListenerOptions,
    load_or_create_credentials,
    write_broker_config,
)
from bedside.contract import MAX_PAYLOAD_BYTES, NurseCallPressed
from bedside.gateway import TerminalGateway
from bedside.mqtt_link import NO_DELAY, BrokerAddress, MqttLink
from bedside.nurse_call import NurseCalls
from bedside.presence import TerminalRegistry
from bedside.topics import Topics
from wardline.bus import EventBus
from wardline.db.engine import Database, upgrade
from wardline.db.models import Bed, Room, Site, Terminal, Ward
from wardline.domain.nurse_call_events import NurseCallRaised

FLOODER = "TF-NOISY"
JUNK_KINDS = [
    b"[" * 8000 + b"]" * 8000,
    b"x" * (MAX_PAYLOAD_BYTES + 1),
    b"\x00not json",
    b'{"v":1,"type":"nurse_call","source":"elbow","press_id":"x"}',
    b'{"v":2,"type":"menu","action":"tv_on"}',
    b'{"v":1,"type":"menu","action":"self_destruct"}',
    b"{}",
    b"[]",
    b"null",
    b'"a string"',
]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def own_mosquitto(terminals: list[str]) -> Iterator[tuple[int, Credentials]]:
    """A Mosquitto of our own from ``wardline mosquitto-config``'s output; killed after."""
    folder = Path(tempfile.mkdtemp(prefix="wl-bench-broker-"))
    port = free_port()
    creds = load_or_create_credentials(folder / "secrets", terminals)
    options = ListenerOptions(port=port, persistence=False, run_as=getpass.getuser())
    write_broker_config(folder / "conf", creds, options)
    process = subprocess.Popen(
        ["mosquitto", "-c", str(folder / "conf" / "mosquitto.conf")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(200):
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            time.sleep(0.025)
        yield port, creds
    finally:
        process.terminate()
        process.wait(timeout=5)
        shutil.rmtree(folder, ignore_errors=True)


async def seed(db: Database, callers: int) -> None:
    async with db.session() as s:
        ward = Ward(site=Site(code="B", name="Bench"), code="WF", name="Flood",
                    nurse_station_extension="2000", escalation=[])  # fmt: skip
        room = Room(ward=ward, code="1")
        s.add(Terminal(id=FLOODER, bed=Bed(room=room, code="N", label="FLOOD-N", extension="5999")))
        for i in range(callers):
            bed = Bed(room=room, code=str(i), label=f"FLOOD-{i}", extension=f"{5000 + i}")
            s.add(Terminal(id=f"TF-{i}", bed=bed))
        s.add(ward)


@dataclass
class Times:
    """perf_counter() of each press (by terminal id) as it reached the service's intake, and
    as NurseCallRaised reached the console."""

    arrived: dict[str, float] = field(default_factory=dict)
    raised: dict[str, float] = field(default_factory=dict)


@contextlib.asynccontextmanager
async def service(
    port: int, creds: Credentials, topics: Topics, db: Database
) -> AsyncIterator[tuple[TerminalGateway, MqttLink, Times]]:
    bus = EventBus()
    times = Times()

    async def console(event: NurseCallRaised) -> None:
        times.raised[event.bed_label.replace("FLOOD-", "TF-")] = time.perf_counter()

    bus.subscribe(NurseCallRaised, console, name="bench.console")
    address = BrokerAddress("127.0.0.1", port, creds.service_user, creds.service_password)
    link = MqttLink(address, client_id=creds.service_user)
    registry = TerminalRegistry(db=db, bus=bus, offline_alert_seconds=300)
    calls = NurseCalls(db=db, bus=bus, link=link, topics=topics)
    gateway = TerminalGateway(topics=topics, registry=registry, nurse_calls=calls, link=link)

    def intake(topic: str, payload: bytes, retained: bool) -> None:
        if "/TF-" in topic:  # a caller's press reached the service (after any backlog)
            times.arrived[topic.split("/")[-2]] = time.perf_counter()
        gateway.on_message(topic, payload, retained)

    link.route(gateway.subscriptions(), intake)
    await bus.start()
    await gateway.start()
    await link.start()
    await link.wait_connected()
    try:
        yield gateway, link, times
    finally:
        await gateway.close()
        await calls.close()
        await link.stop()
        await bus.stop()


def terminal(port: int, creds: Credentials, tid: str) -> aiomqtt.Client:
    return aiomqtt.Client("127.0.0.1", port, username=tid, password=creds.terminals[tid],
                          socket_options=[NO_DELAY])  # fmt: skip


async def press(
    client: aiomqtt.Client, topics: Topics, i: int, times: Times
) -> tuple[float, float]:
    """Press on bed i: (seconds to the service's intake, seconds to NurseCallRaised)."""
    tid = f"TF-{i}"
    start = time.perf_counter()
    payload = NurseCallPressed(source="button", press_id=f"p{i}").to_bytes()
    await client.publish(topics.event(tid), payload, qos=1)
    while tid not in times.raised:  # noqa: ASYNC110 - polled at 1 ms, a bench
        await asyncio.sleep(0.001)
    return times.arrived[tid] - start, times.raised[tid] - start


def flooder(port: int, password: str, topic: str, count: int) -> None:
    """The noisy terminal, in its own process (another device, not our event loop): ``count``
    junk messages at QoS 1, 200 in flight, as fast as the broker takes them."""
    import paho.mqtt.client as mqtt

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=FLOODER)
    client.username_pw_set(FLOODER, password)
    client.max_inflight_messages_set(200)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    start = time.perf_counter()
    last = None
    for n in range(count):
        last = client.publish(topic, JUNK_KINDS[n % len(JUNK_KINDS)], qos=1)
    if last is not None:
        last.wait_for_publish(120)
    print(round(time.perf_counter() - start, 3), flush=True)
    client.disconnect()
    client.loop_stop()


async def flood(port: int, creds: Credentials, topics: Topics, count: int) -> float:
    """Run the flooder process; the seconds it took to send everything."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--flooder", str(port), creds.terminals[FLOODER],
        topics.event(FLOODER), str(count), stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, _ = await process.communicate()
    return float(out.decode().strip().splitlines()[-1])


async def run(junk: int, rounds: int, calls: int) -> dict[str, object]:
    callers = calls * (rounds + 1)
    topics = Topics()
    folder = Path(tempfile.mkdtemp(prefix="wl-bench-"))
    db_url = f"sqlite+aiosqlite:///{folder / 'bench.db'}"
    await upgrade(db_url)
    db = Database(db_url)
    await seed(db, callers)
    baseline: list[float] = []
    flooded: list[float] = []
    to_intake: list[float] = []
    flood_seconds: list[float] = []
    with own_mosquitto([FLOODER, *(f"TF-{i}" for i in range(callers))]) as (port, creds):
        async with service(port, creds, topics, db) as (gateway, link, times):
            async with contextlib.AsyncExitStack() as stack:
                beds = [await stack.enter_async_context(terminal(port, creds, f"TF-{i}"))
                        for i in range(callers)]  # fmt: skip
                for i in range(calls):  # no flood
                    baseline.append((await press(beds[i], topics, i, times))[1])
                    await asyncio.sleep(0.05)
                for r in range(rounds):
                    received = link.received
                    flooding = asyncio.create_task(flood(port, creds, topics, junk))
                    first = calls * (r + 1)
                    for i in range(first, first + calls):  # spread over the flood
                        while link.received - received < junk * (i - first) // (calls + 1):  # noqa: ASYNC110
                            await asyncio.sleep(0.002)
                        arrived, raised = await press(beds[i], topics, i, times)
                        to_intake.append(arrived)
                        flooded.append(raised)
                    flood_seconds.append(await flooding)
                    await gateway.idle()
            refused = dict(gateway.refused)
    await db.dispose()
    shutil.rmtree(folder, ignore_errors=True)
    ms = 1000.0
    return {
        "junk_per_round": junk,
        "rounds": rounds,
        "calls_per_phase": calls,
        "baseline_p50_ms": round(statistics.median(baseline) * ms, 2),
        "baseline_p99_ms": round(pct(baseline, 0.99) * ms, 2),
        "flood_p50_ms": round(statistics.median(flooded) * ms, 2),
        "flood_p99_ms": round(pct(flooded, 0.99) * ms, 2),
        "flood_seconds_median": round(statistics.median(flood_seconds), 2),
        "ratio_flood_p99_vs_baseline_p99": round(pct(flooded, 0.99) / pct(baseline, 0.99), 2),
        "refused": refused,
        "flood_to_intake_p99_ms": round(pct(to_intake, 0.99) * ms, 2),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--junk", type=int, default=10_000, help="bad messages per flood")
    parser.add_argument("--rounds", type=int, default=3, help="floods")
    parser.add_argument("--calls", type=int, default=10, help="presses per flood (and baseline)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--flooder", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.flooder:
        port, password, topic, count = args.flooder
        flooder(int(port), password, topic, int(count))
        return
    result = await run(args.junk, args.rounds, args.calls)
    print(f"nurse call while another terminal floods {args.junk} bad messages "
          f"({args.rounds} floods, {args.calls} presses each; own Mosquitto, SQLite)")  # fmt: skip
    print(f"  no flood (baseline):  p50 {result['baseline_p50_ms']} ms, "
          f"p99 {result['baseline_p99_ms']} ms")  # fmt: skip
    print(f"  during the flood:     p50 {result['flood_p50_ms']} ms, "
          f"p99 {result['flood_p99_ms']} ms (target < 1000 ms)")  # fmt: skip
    print(f"  of which press -> the service's intake (broker and reading): "
          f"p99 {result['flood_to_intake_p99_ms']} ms")  # fmt: skip
    print(f"  ratio p99 flood / baseline: {result['ratio_flood_p99_vs_baseline_p99']}; "
          f"a flood took {result['flood_seconds_median']} s to send")  # fmt: skip
    print(f"  refused by reason: {result['refused']}")
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
