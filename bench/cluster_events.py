"""Domain events between two instances through PostgreSQL LISTEN/NOTIFY: A -> B latency.

Instance A (this process: its bus and bridge) publishes ``--events`` StayAdmitted at
``--rate`` a second; instance B (another process: its own bus, bridge and database engine on
the same PostgreSQL) records when each reaches a subscriber of its bus, marked remote. Two
baselines in the same run: the same events reaching a subscriber of A's own bus (the
in-process bus alone), and a bare ``pg_notify`` -> asyncpg listener between the same two
processes (the database's floor). Latency is wall-clock time from the event's creation on A
to its delivery (both processes on this machine, one clock). Prints p50/p99 of each and the
ratios; ``--big`` also sends events past the 8000-byte limit (stored, their id notified).

    python bench/cluster_events.py [--events 2000] [--rate 200] [--big 50] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import sys
import time
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.adt_mllp import fresh_pg, percentile

PG_ADMIN = os.environ.get("WARDLINE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
FLOOR_CHANNEL = "wardline_bench_floor"


def _quiet() -> None:
    import logging

    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))


def _ms(seconds: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(percentile(seconds, 50) * 1000, 3),
        "p99_ms": round(percentile(seconds, 99) * 1000, 3),
        "max_ms": round(max(seconds) * 1000, 3),
    }


def instance_b(url: str, expected: int, conn: Connection) -> None:
    """Instance B: a bus and a bridge; sends back each remote event's latency, and the
    floor's (bare NOTIFY) latencies."""
    _quiet()

    async def main() -> None:
        import asyncpg

        from wardline.bus import EventBus
        from wardline.db.engine import Database
        from wardline.domain.events import StayAdmitted
        from wardline.fanout.bridge import PeerEvents, asyncpg_dsn

        floor: list[float] = []
        raw = await asyncpg.connect(asyncpg_dsn(url))

        def heard(_c: Any, _pid: int, _channel: str, payload: str) -> None:
            floor.append(time.time() - float(payload))

        await raw.add_listener(FLOOR_CHANNEL, heard)
        db, bus = Database(url), EventBus()
        await db.ping()  # a warm engine, as a running instance has (it fetches stored events)
        bridge = PeerEvents(db, bus, origin="bench-b")
        got: list[float] = []
        done = asyncio.Event()

        async def record(event: StayAdmitted) -> None:
            if event.remote:
                got.append((datetime.now(UTC) - event.at).total_seconds())
                if len(got) >= expected:
                    done.set()

        bus.subscribe(StayAdmitted, record, name="bench.b")
        await bus.start()
        await bridge.start()
        while bridge.state != "up":  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        conn.send("ready")
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, conn.recv)  # floor sent
        await asyncio.sleep(0.5)
        conn.send(floor)
        async with asyncio.timeout(120):
            await done.wait()
        conn.send({"latencies": got, "dropped": dict(bridge.dropped)})
        await bridge.stop()
        await bus.stop()
        await raw.close()
        await db.dispose()

    asyncio.run(main())


async def run(events: int, rate: float, big: int) -> dict[str, Any]:
    import asyncpg

    from wardline.bus import EventBus
    from wardline.db.engine import Database, upgrade
    from wardline.domain.events import BedRef, StayAdmitted
    from wardline.fanout.bridge import PeerEvents, asyncpg_dsn

    async with fresh_pg(PG_ADMIN) as url:
        await upgrade(url)
        parent, child = mp.Pipe()
        ctx = mp.get_context("spawn")
        b = ctx.Process(target=instance_b, args=(url, events + big, child), daemon=True)
        b.start()
        assert parent.recv() == "ready"
        # the floor: bare NOTIFY from A's process to B's listener
        raw = await asyncpg.connect(asyncpg_dsn(url))
        for _ in range(events):
            await raw.execute("SELECT pg_notify($1, $2)", FLOOR_CHANNEL, repr(time.time()))
            await asyncio.sleep(1 / rate)
        await raw.close()
        parent.send("go")
        floor: list[float] = await asyncio.get_running_loop().run_in_executor(None, parent.recv)

        db, bus = Database(url), EventBus()
        bridge = PeerEvents(db, bus, origin="bench-a")
        local: list[float] = []

        async def record(event: StayAdmitted) -> None:
            local.append((datetime.now(UTC) - event.at).total_seconds())

        bus.subscribe(StayAdmitted, record, name="bench.a")
        await bus.start()
        await bridge.start()
        bed = BedRef(bed_id=1, label="B-1-A", extension="2001", ward_code="B", terminal_id="t1")
        wide = BedRef(bed_id=2, label="B-1-B", extension="2002", ward_code="B" * 9000,
                      terminal_id=None)  # fmt: skip
        started = time.perf_counter()
        for n in range(events + big):
            where = wide if n >= events else bed
            bus.publish(StayAdmitted(stay_id=n, visit_number=f"V{n}", patient_id=n, bed=where,
                                     did=None))  # fmt: skip
            await asyncio.sleep(1 / rate)
        answer = await asyncio.get_running_loop().run_in_executor(None, parent.recv)
        elapsed = time.perf_counter() - started
        b.join(10)
        await bridge.stop()
        await bus.stop()
        await db.dispose()
    remote = answer["latencies"]
    small, stored = remote[:events], remote[events:]
    out: dict[str, Any] = {
        "events": events,
        "rate": rate,
        "elapsed_s": round(elapsed, 2),
        "local_bus": _ms(local[:events]),
        "notify_floor": _ms(floor),
        "a_to_b": _ms(small),
        "received": len(remote),
        "dropped": answer["dropped"],
        "sent": bridge.sent,
        "load_average": os.getloadavg()[0],
    }
    if stored:
        out["a_to_b_stored"] = _ms(stored)
    out["ratio_p99_vs_floor"] = round(out["a_to_b"]["p99_ms"] / out["notify_floor"]["p99_ms"], 2)
    out["ratio_p50_vs_local"] = round(out["a_to_b"]["p50_ms"] / out["local_bus"]["p50_ms"], 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=200.0, help="events a second")
    parser.add_argument("--big", type=int, default=50, help="events past the 8000-byte limit")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    _quiet()
    out = asyncio.run(run(args.events, args.rate, args.big))
    print(f"{out['events']} events at {out['rate']:.0f}/s, load average {out['load_average']}")
    for name in ("local_bus", "notify_floor", "a_to_b", "a_to_b_stored"):
        if name in out:
            f = out[name]
            print(f"  {name:14} p50 {f['p50_ms']:8.3f} ms  p99 {f['p99_ms']:8.3f} ms  "
                  f"max {f['max_ms']:8.3f} ms")  # fmt: skip
    print(f"  A->B p99 / bare NOTIFY p99: {out['ratio_p99_vs_floor']}")
    print(f"  A->B p50 / local bus p50:   {out['ratio_p50_vs_local']}")
    print(f"  received {out['received']} of {out['sent']}, dropped {out['dropped']}")
    if args.json:
        print(json.dumps(out))


if __name__ == "__main__":
    main()
