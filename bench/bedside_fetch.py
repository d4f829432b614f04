"""Bedside record fetch from the FHIR sandbox over HTTP: p50 and p95 (target p95 < 150 ms).

Each fetch is the full bedside bundle of one stay (Encounter and Patient, then allergies,
prescriptions with their Medication, vital signs, diet and administrations, in parallel) on
one shared aiohttp session. Baselines measured in the same run: one FHIR read on the same
session (the HTTP floor), and a fetch served from the cache.

    python bench/bedside_fetch.py [--fetches 300] [--concurrency 4] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp
import structlog

from ehr_bridge.bedside_record import BedsideRecords
from ehr_bridge.config import EhrOptions
from ehr_bridge.fhir_auth import StaticToken
from ehr_bridge.fhir_client import SharedSessionClient
from ehr_bridge.sandbox.seed import example_bed_locations, example_patient, seed_example
from ehr_bridge.sandbox.server import RunningSandbox, SandboxAuth
from ehr_bridge.sandbox.store import SandboxStore
from tests.ehr_bridge.fhir_fixtures import stay_view

TARGET_P95_MS = 150.0
TOKEN = "bench-token"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def timed(
    fetches: int, concurrency: int, one: Callable[[int], Awaitable[object]]
) -> list[float]:
    latencies: list[float] = []
    queue = list(range(fetches))

    async def worker() -> None:
        while queue:
            n = queue.pop()
            start = time.perf_counter()
            await one(n)
            latencies.append((time.perf_counter() - start) * 1000)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies


def summary(name: str, latencies: list[float]) -> dict[str, float]:
    p50, p95 = percentile(latencies, 50), percentile(latencies, 95)
    print(f"{name:<16} {len(latencies):>5} fetches   p50 {p50:7.2f} ms   p95 {p95:7.2f} ms")
    return {"count": len(latencies), "p50_ms": round(p50, 2), "p95_ms": round(p95, 2)}


async def main(args: argparse.Namespace) -> dict[str, object]:
    store = SandboxStore()
    locations = example_bed_locations(120)
    patients = seed_example(store, locations)
    stays = [
        stay_view(ipp=ipp, visit=visit)
        for ipp, visit in (example_patient(n) for n in range(0, len(locations), 2))
    ]
    sandbox = RunningSandbox(store, SandboxAuth(token=TOKEN))
    await sandbox.start()
    try:
        async with aiohttp.ClientSession() as http:
            client = SharedSessionClient(sandbox.url, http, StaticToken(TOKEN))
            fresh = BedsideRecords(client, EhrOptions(), ttl_seconds=0)
            cached = BedsideRecords(client, EhrOptions(), ttl_seconds=3600)
            for stay in stays:
                await cached.get(stay)

            async def read(n: int) -> object:
                return await client.read("Patient", f"pat-{stays[n % len(stays)].patient.ipp}")

            floor = await timed(args.fetches, args.concurrency, read)
            full = await timed(
                args.fetches, args.concurrency, lambda n: fresh.get(stays[n % len(stays)])
            )
            hits = await timed(
                args.fetches, args.concurrency, lambda n: cached.get(stays[n % len(stays)])
            )
    finally:
        await sandbox.stop()
    print(f"bedside fetch from the sandbox, {patients} patients, concurrency {args.concurrency}")
    result = summary("bedside record", full)
    base_read = summary("one FHIR read", floor)
    base_cache = summary("cache hit", hits)
    ratio = result["p95_ms"] / TARGET_P95_MS
    print(
        f"p95 vs target {TARGET_P95_MS:.0f} ms: x{ratio:.2f} (below 1 meets it); "
        f"vs one read: x{result['p50_ms'] / max(base_read['p50_ms'], 0.001):.1f} (p50)"
    )
    return {
        "bench": "bedside_fetch",
        "bedside_record": result,
        "baseline_one_read": base_read,
        "baseline_cache_hit": base_cache,
        "target_p95_ms": TARGET_P95_MS,
        "ratio_p95_to_target": round(ratio, 3),
        "meets_target": result["p95_ms"] < TARGET_P95_MS,
    }


def cli() -> int:
    parser = argparse.ArgumentParser(description="Bedside record fetch from the FHIR sandbox")
    parser.add_argument("--fetches", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--json", action="store_true", help="print one JSON object last")
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    result = asyncio.run(main(args))
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(cli())
