"""Bedside record fetch over HTTP from a real FHIR engine (Medplum's FHIR router with its
in-memory repository, tests/fhir_peer) beside the FHIR sandbox, in the same run, with the
same records: p50 and p95 (target p95 < 150 ms).

Each fetch is the full bedside bundle of one stay (Encounter and Patient, identity checks,
then allergies, prescriptions with their Medication, vital signs, diet and administrations,
in parallel) on one shared aiohttp session. The records are ``--patients`` of the demo's
example patients and the corpus (ehr_bridge/sandbox/corpus), loaded into both servers.
Medplum's in-memory repository answers searches by scanning every resource of the type (it
is the engine of Medplum's own tests; its server indexes in PostgreSQL), so its figures grow
with ``--patients``: they bound our client's cost from above, not Medplum's server's.
Baselines measured in the same run, per server: one FHIR read on the same session (the HTTP
floor), and a fetch served from the cache. Needs node and `npm ci` in tests/fhir_peer.

    python bench/bedside_fetch.py [--fetches 200] [--patients 10] [--concurrency 4] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp
import structlog

from ehr_bridge.bedside_record import BedsideRecords
from ehr_bridge.config import EhrOptions
from ehr_bridge.fhir_auth import StaticToken
from ehr_bridge.fhir_client import SharedSessionClient
from ehr_bridge.sandbox.corpus import IPP_SYSTEM, VISIT_SYSTEM, load_corpus
from ehr_bridge.sandbox.seed import example_bed_locations, example_patients, seed_example
from ehr_bridge.sandbox.server import RunningSandbox, SandboxAuth
from ehr_bridge.sandbox.store import SandboxStore
from tests.ehr_bridge.fhir_fixtures import corpus_stay, stay_view
from tests.fhir_peer import running_medplum
from wardline.domain.stay_views import StayView

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


def example_stays(beds: int) -> list[StayView]:
    """The stays of the example patients and of the corpus's bed patients whose identity
    agrees, as the ADT feed admitted them."""
    stays = []
    for p in example_patients(beds):
        stay = stay_view(ipp=p.ipp, visit=p.visit_number)
        stays.append(replace(stay, patient=replace(stay.patient, birth_date=p.birth_date)))
    return stays + [corpus_stay(key) for key in ("helene", "zoe", "aime")]


async def measure(
    url: str, stays: list[StayView], args: argparse.Namespace
) -> dict[str, dict[str, float]]:
    options = EhrOptions(ipp_system=IPP_SYSTEM, visit_system=VISIT_SYSTEM, request_timeout=60)
    async with aiohttp.ClientSession() as http:
        client = SharedSessionClient(url, http, StaticToken(TOKEN))
        fresh = BedsideRecords(client, options, ttl_seconds=0)
        cached = BedsideRecords(client, options, ttl_seconds=3600)
        for stay in stays:
            await cached.get(stay)  # also proves every stay reads (identity agrees)

        async def read(n: int) -> object:
            return await client.read("Patient", f"pat-{stays[n % len(stays)].patient.ipp}")

        floor = await timed(args.fetches, args.concurrency, read)
        full = await timed(
            args.fetches, args.concurrency, lambda n: fresh.get(stays[n % len(stays)])
        )
        hits = await timed(
            args.fetches, args.concurrency, lambda n: cached.get(stays[n % len(stays)])
        )
    return {
        "bedside_record": summary("bedside record", full),
        "baseline_one_read": summary("one FHIR read", floor),
        "baseline_cache_hit": summary("cache hit", hits),
    }


async def main(args: argparse.Namespace) -> dict[str, object]:
    store = SandboxStore()
    patients = seed_example(store, example_bed_locations(2 * args.patients))
    load_corpus(store)
    stays = example_stays(2 * args.patients)
    sandbox = RunningSandbox(store, SandboxAuth(token=TOKEN))
    await sandbox.start()
    results: dict[str, dict[str, dict[str, float]]] = {}
    try:
        with running_medplum(token=TOKEN) as medplum:
            resources = [r for kind in store.resources.values() for r in kind.values()]
            await asyncio.to_thread(medplum.put_all, resources)
            for name, url in (("medplum", medplum.base_url), ("sandbox", sandbox.url)):
                print(f"-- {name}: {patients + 3} stays, concurrency {args.concurrency}")
                results[name] = await measure(url, stays, args)
    finally:
        await sandbox.stop()
    real = results["medplum"]["bedside_record"]
    own = results["sandbox"]["bedside_record"]
    ratio = real["p95_ms"] / TARGET_P95_MS
    print(
        f"Medplum p95 vs target {TARGET_P95_MS:.0f} ms: x{ratio:.2f} (below 1 meets it); "
        f"Medplum vs sandbox p95: x{real['p95_ms'] / max(own['p95_ms'], 0.001):.2f}"
    )
    return {
        "bench": "bedside_fetch",
        "peers": results,
        "target_p95_ms": TARGET_P95_MS,
        "ratio_p95_to_target": round(ratio, 3),
        "ratio_medplum_to_sandbox_p95": round(real["p95_ms"] / max(own["p95_ms"], 0.001), 3),
        "meets_target": real["p95_ms"] < TARGET_P95_MS and own["p95_ms"] < TARGET_P95_MS,
    }


def cli() -> int:
    parser = argparse.ArgumentParser(
        description="Bedside record fetch from Medplum beside the FHIR sandbox"
    )
    parser.add_argument("--fetches", type=int, default=200)
    parser.add_argument(
        "--patients",
        type=int,
        default=10,
        help="example patients besides the corpus (Medplum's in-memory search is a linear"
        " scan: its latency grows with the records held)",
    )
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
