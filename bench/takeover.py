"""Two ``wardline serve`` processes on one PostgreSQL database (as on two machines): how long
the hospital is without its duties when the instance holding them dies, and what a second
instance adds to the ADT feed.

Takeover, over ``--rounds`` rounds: the instance holding the leases is killed (SIGKILL) and a
nurse call is pressed at once; the takeover time runs from the kill to the later of (a) the
survivor's ``/readyz`` naming it the live holder of every duty and (b) the PBX ringing the
station for the new call. The victim is started again before the next round. Baseline in
the same run: the same press rung by a healthy cluster (press -> ring), and the lease TTL
(``WARDLINE_LEASE_TTL_SECONDS``), the time a dead holder's lease takes to expire.

ADT throughput: ``--patients`` patients per side (A01, A02, most then A03), ``--senders``
MLLP senders each waiting for its ACK and keeping to one instance as its connection through
the balancer would: to one instance (the other stopped), then to both (senders spread over
them), twice over: messages/s and the ratio two / one.

    python bench/takeover.py [--rounds 20] [--patients 100] [--senders 4] [--json]

Needs PostgreSQL on 127.0.0.1:5432 and Mosquitto on 127.0.0.1:1883 (as the tests).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp

from tests.cluster.harness import Cluster, Instance, running_cluster
from tests.cluster.load import AdtFeed, AdtPlan, NurseCallButtons, RingRecorder
from tests.cluster.test_chaos import call_of, holder_of_leases, lease_map

TARGET_TAKEOVER_P99 = 5.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


async def wait_for(predicate: Any, timeout: float, interval: float = 0.02) -> float | None:  # noqa: ASYNC109
    """Seconds until ``predicate()`` holds (None at the deadline)."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return time.monotonic() - start
        await asyncio.sleep(interval)
    return None


async def ring_time(
    cluster: Cluster, buttons: NurseCallButtons, rings: RingRecorder, start: float
) -> float | None:
    """Press a call; seconds from ``start`` to its station ringing."""
    press = await buttons.press()
    assert press is not None, "not enough beds for the presses"

    async def rung() -> bool:
        call = await call_of(cluster, press)
        return call is not None and rings.rang(call, press.bed.station)

    if await wait_for(rung, 30) is None:
        return None
    call = await call_of(cluster, press)
    assert call is not None
    first = rings.first_ring(call)
    return None if first is None else first - start


async def takeover_rounds(
    cluster: Cluster, http: aiohttp.ClientSession, buttons: NurseCallButtons, rounds: int
) -> dict[str, Any]:
    rings = RingRecorder(cluster.pbx)
    healthy: list[float] = []
    takeovers: list[float] = []
    lease_times: list[float] = []
    ring_times: list[float] = []
    failures = 0
    for n in range(rounds):
        # Baseline: the same press on the healthy cluster.
        before = await ring_time(cluster, buttons, rings, time.monotonic())
        if before is not None:
            healthy.append(before)
        victim = await holder_of_leases(cluster, http) or cluster.instances[n % 2]
        survivor = next(i for i in cluster.instances if i is not victim)
        killed_at = time.monotonic()
        await victim.kill()
        ring_task = asyncio.create_task(ring_time(cluster, buttons, rings, killed_at))

        async def survivor_holds_all(s: Instance = survivor) -> bool:
            holders = await lease_map(cluster, http)
            return bool(holders) and set(holders.values()) == {s.name}

        leases = await wait_for(survivor_holds_all, 30, interval=0.05)
        rung = await ring_task
        if leases is None or rung is None:
            failures += 1
        else:
            lease_times.append(leases)
            ring_times.append(rung)
            takeovers.append(max(leases, rung))
        print(
            f"  round {n + 1:2d}: killed {victim.name}, leases {_s(leases)}, ring {_s(rung)}",
            flush=True,
        )
        await victim.start()
        await victim.wait_ready(http)
    return {
        "rounds": rounds,
        "failed_rounds": failures,
        "takeover_p50_s": round(percentile(takeovers, 0.5), 3),
        "takeover_p99_s": round(percentile(takeovers, 0.99), 3),
        "takeover_max_s": round(max(takeovers, default=float("nan")), 3),
        "leases_p99_s": round(percentile(lease_times, 0.99), 3),
        "ring_after_kill_p99_s": round(percentile(ring_times, 0.99), 3),
        "healthy_ring_p50_s": round(percentile(healthy, 0.5), 3),
        "healthy_ring_p99_s": round(percentile(healthy, 0.99), 3),
    }


def _s(value: float | None) -> str:
    return "none" if value is None else f"{value:.2f} s"


async def adt_phase(
    targets: list[Instance], plan: AdtPlan, patients: int, senders: int
) -> dict[str, Any]:
    """``patients`` through ``senders`` senders, each keeping to one instance (as a sender's
    connection through the balancer does), the senders spread over ``targets``."""
    feeds = [
        AdtFeed(
            f"S{n}",
            targets[n % len(targets) :] + targets[: n % len(targets)],
            plan,
            pause=0.0,
            timeout=10.0,
            sticky=True,
        )
        for n in range(senders)
    ]
    share = [patients // senders + (1 if n < patients % senders else 0) for n in range(senders)]
    start = time.monotonic()
    await asyncio.gather(
        *(f.run(asyncio.Event(), patients=k) for f, k in zip(feeds, share, strict=True))
    )
    seconds = time.monotonic() - start
    for feed in feeds:
        await feed.close()
    return {
        "messages": sum(len(f.acked) for f in feeds),
        "seconds": seconds,
        "latencies": [x for f in feeds for x in f.latencies],
        "non_aa": sum(1 for f in feeds for c in f.acked.values() if c != "AA"),
    }


def combined(phases: list[dict[str, Any]]) -> dict[str, Any]:
    messages = sum(p["messages"] for p in phases)
    seconds = sum(p["seconds"] for p in phases)
    latencies = [x for p in phases for x in p["latencies"]]
    return {
        "messages": messages,
        "seconds": round(seconds, 2),
        "per_second": round(messages / seconds, 1),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
        "non_aa": sum(p["non_aa"] for p in phases),
    }


async def adt_rounds(
    cluster: Cluster, http: aiohttp.ClientSession, patients: int, senders: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """One instance (the other stopped), then two, twice over (so neither goes only first)."""
    a, b = cluster.instances
    beds = iter(cluster.beds[: 4 * patients])
    half = patients // 2
    one: list[dict[str, Any]] = []
    two: list[dict[str, Any]] = []
    for n in range(2):
        plan_beds = [next(beds) for _ in range(2 * half)]
        await b.stop()
        one.append(await adt_phase([a], AdtPlan(plan_beds, n, f"B1{n}"), half, senders))
        await b.start()
        await b.wait_ready(http)
        plan_beds = [next(beds) for _ in range(2 * half)]
        two.append(await adt_phase([a, b], AdtPlan(plan_beds, n, f"B2{n}"), half, senders))
    return combined(one), combined(two)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    beds = 4 * args.patients + 2 * args.rounds + 20
    beds += beds % 2
    with tempfile.TemporaryDirectory(prefix="wl-takeover-") as tmp:
        async with running_cluster(Path(tmp), ("a", "b"), beds=beds) as cluster:
            print(f"two instances up ({beds} beds); lease TTL {args.ttl} s", flush=True)
            async with (
                aiohttp.ClientSession() as http,
                NurseCallButtons(cluster.beds[::-1], cluster.topic_root) as buttons,
            ):
                takeover = await takeover_rounds(cluster, http, buttons, args.rounds)
                one, two = await adt_rounds(cluster, http, args.patients, args.senders)
    load = os.getloadavg()
    return {
        "benchmark": "takeover",
        **takeover,
        "lease_ttl_s": args.ttl,
        "target_takeover_p99_s": TARGET_TAKEOVER_P99,
        "takeover_met": takeover["takeover_p99_s"] < TARGET_TAKEOVER_P99
        and not takeover["failed_rounds"],
        "adt_one_instance": one,
        "adt_two_instances": two,
        "adt_ratio_two_to_one": round(two["per_second"] / one["per_second"], 3),
        "load_average": [round(x, 2) for x in load],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--patients", type=int, default=100, help="patients per ADT phase")
    parser.add_argument("--senders", type=int, default=4)
    parser.add_argument("--json", action="store_true", help="one JSON object last")
    args = parser.parse_args()
    args.ttl = float(os.environ.get("WARDLINE_LEASE_TTL_SECONDS", "3"))
    r = asyncio.run(run(args))
    print(
        f"takeover (kill -9 -> survivor holds every lease and rings a new call), "
        f"{r['rounds']} rounds: p50 {r['takeover_p50_s']} s, p99 {r['takeover_p99_s']} s, "
        f"max {r['takeover_max_s']} s (leases p99 {r['leases_p99_s']} s, "
        f"ring p99 {r['ring_after_kill_p99_s']} s; failed rounds {r['failed_rounds']})"
    )
    met = "met" if r["takeover_met"] else "NOT met"
    print(
        f"  baseline: healthy press -> ring p50 {r['healthy_ring_p50_s']} s, "
        f"p99 {r['healthy_ring_p99_s']} s; lease TTL {r['lease_ttl_s']} s; "
        f"target p99 < {TARGET_TAKEOVER_P99} s: {met}"
    )
    one, two = r["adt_one_instance"], r["adt_two_instances"]
    print(
        f"ADT over MLLP: one instance {one['per_second']} msg/s (p99 {one['p99_ms']} ms), "
        f"two instances {two['per_second']} msg/s (p99 {two['p99_ms']} ms): "
        f"ratio {r['adt_ratio_two_to_one']}"
    )
    print(f"load average {r['load_average']}")
    if args.json:
        print(json.dumps(r))


if __name__ == "__main__":
    main()
