"""Two ``wardline serve`` processes, one hospital: under a steady load of ADT messages (MLLP
to both instances in turn), nurse-call presses (MQTT) and bedside writes (outbox), the
instance holding the leases is killed (kill -9) at random moments and started again, once
paused (SIGSTOP: a partition or a GC stall, then SIGCONT with stale authority) and once cut
off PostgreSQL (a proxy that drops every byte). Then, from the sources of truth:

- every acked ADT message is in the inbox once and applied; each stay is where the feed left
  it (nothing lost, nothing applied twice);
- every nurse-call press raised exactly one call, rung at its ward's station;
- the bed lines in the PBX's AstDB equal the stays;
- each bedside write created once at the EHR, sent again only by an instance killed mid-send;
- the console on the survivor kept its live feed: it saw the call pressed after the kill.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.cluster.checks import (
    BedsideWrites,
    Findings,
    adt_findings,
    fetch,
    line_findings,
    nurse_call_findings,
)
from tests.cluster.harness import Cluster, Instance, running_cluster
from tests.cluster.load import AdtFeed, AdtPlan, Console, NurseCallButtons, Press, RingRecorder, now
from tests.services import need_mosquitto, need_postgres

ROUNDS = int(os.environ.get("WARDLINE_CHAOS_ROUNDS", "20"))
SEED = int(os.environ.get("WARDLINE_CHAOS_SEED", "16"))
LEASES = {"WARDLINE_LEASE_TTL_SECONDS": "1.5", "WARDLINE_LEASE_RENEW_SECONDS": "0.5"}
"""Short leases keep the rounds short (production default: 3 s, renewed every second)."""


RECEIVED = "SELECT id FROM inbound_messages WHERE status = 'received'"


def lease_holders(report: dict[str, Any] | None) -> dict[str, str]:
    """Duty -> instance id of every live lease, as /readyz reports them (empty: not at all)."""
    if not report:
        return {}
    leases = report.get("checks", {}).get("leases") or {}
    holders = leases.get("holders") if isinstance(leases, dict) else None
    if not isinstance(holders, dict):
        return {}
    return {
        duty: h["holder"]
        for duty, h in holders.items()
        if isinstance(h, dict) and h.get("live", True) and isinstance(h.get("holder"), str)
    }


async def lease_map(cluster: Cluster, http: aiohttp.ClientSession) -> dict[str, str]:
    """The leases as the first answering instance reports them."""
    for instance in cluster.instances:
        if instance.alive and not instance.paused:
            holders = lease_holders(await instance.readiness(http))
            if holders:
                return holders
    return {}


async def holder_of_leases(cluster: Cluster, http: aiohttp.ClientSession) -> Instance | None:
    """The instance holding the most duties."""
    holders = Counter((await lease_map(cluster, http)).values())
    if not holders:
        return None
    name = holders.most_common(1)[0][0]
    return next((i for i in cluster.instances if i.name == name), None)


async def settle(predicate: Any, timeout: float) -> bool:  # noqa: ASYNC109
    """Poll until ``predicate()`` holds; False at the deadline (a finding, not a crash)."""
    deadline = now() + timeout
    while True:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return True
        if now() > deadline:
            return False
        await asyncio.sleep(0.1)


async def call_of(cluster: Cluster, press: Press) -> int | None:
    rows = await fetch(cluster, "SELECT id FROM nurse_calls WHERE press_key = $1", press.key)
    return rows[0]["id"] if rows else None


class Chaos:
    def __init__(self, cluster: Cluster, http: aiohttp.ClientSession) -> None:
        self.cluster, self.http = cluster, http
        self.rng = random.Random(SEED)
        self.rings = RingRecorder(cluster.pbx)
        self.found = Findings()
        self.kills = 0
        self.timings: list[str] = []
        self.consoles = {i.name: Console(i) for i in cluster.instances}

    async def victim(self, round_no: int) -> Instance:
        holder: Instance | None = None

        async def named() -> bool:
            nonlocal holder
            holder = await holder_of_leases(self.cluster, self.http)
            return holder is not None

        # A lease may lapse for a moment on a loaded machine (renewed late), then be taken.
        if not await settle(named, 10):
            self.found.add("lease.unreported", f"round {round_no}: /readyz names no holder")
        return holder or self.cluster.instances[round_no % len(self.cluster.instances)]

    async def after_loss(
        self,
        survivor: Instance,
        buttons: NurseCallButtons,
        what: str,
        restore: Callable[[], Awaitable[None]],
    ) -> None:
        """A call pressed once the victim is gone: raised, rung at its station, and seen on the
        console of the survivor; the survivor takes every lease, and applies the ADT messages
        waiting in the inbox. ``restore`` (start again, resume, reconnect) runs once the
        leases are checked: a paused or cut-off instance may hold the press until then."""
        since = now()
        press = await buttons.press()
        assert press is not None, "not enough beds for the presses"
        waiting = {r["id"] for r in await fetch(self.cluster, RECEIVED)}

        async def survivor_holds_all() -> bool:
            holders = await lease_map(self.cluster, self.http)
            return bool(holders) and set(holders.values()) == {survivor.name}

        if not await settle(survivor_holds_all, 15):
            self.found.add("takeover.leases", f"{what}: {await lease_map(self.cluster, self.http)}")

        async def inbox_drained() -> bool:
            return not waiting & {r["id"] for r in await fetch(self.cluster, RECEIVED)}

        if not await settle(inbox_drained, 10):
            self.found.add("takeover.adt_stuck", f"{what}: acked messages left unapplied")
        await restore()

        async def rung() -> bool:
            call = await call_of(self.cluster, press)
            return call is not None and self.rings.rang(call, press.bed.station)

        if not await settle(rung, 20):
            self.found.add("takeover.no_ring", f"{what}: {press.bed.label}")

        console = self.consoles[survivor.name]
        if not await settle(lambda: console.saw(press.bed.label, since), 10):
            self.found.add("feed.survivor_silent", f"{what}: {press.bed.label} on {survivor.name}")

    async def across_instances(self, plan: AdtPlan, buttons: NurseCallButtons) -> list[AdtFeed]:
        """An admission through each instance alone, and a press: every console sees them,
        whichever instance produced the event."""
        feeds = []
        for origin in self.cluster.instances:
            feed = AdtFeed(f"X{origin.name}", [origin], plan)
            since = now()
            await feed.run(asyncio.Event(), patients=1)
            await feed.close()
            feeds.append(feed)
            bed = feed.sent[0].bed.label
            for name, console in self.consoles.items():
                if not await settle(lambda c=console, b=bed, t=since: c.saw(b, t), 10):
                    self.found.add("feed.cross_instance", f"admission via {origin.name} on {name}")
        since = now()
        press = await buttons.press()
        assert press is not None
        for name, console in self.consoles.items():
            if not await settle(lambda c=console: c.saw(press.bed.label, since), 10):
                self.found.add("feed.cross_instance", f"nurse call on {name}")
        return feeds

    async def kill_round(self, round_no: int, buttons: NurseCallButtons) -> None:
        victim = await self.victim(round_no)
        survivor = next(i for i in self.cluster.instances if i is not victim)
        await asyncio.wait_for(self.consoles[survivor.name].connected.wait(), 20)
        await victim.kill()
        self.kills += 1
        killed = now()
        await self.after_loss(survivor, buttons, f"kill {round_no} of {victim.name}", victim.start)
        checked = now()
        await victim.wait_ready(self.http)
        self.timings.append(f"{checked - killed:.1f}+{now() - checked:.1f}")

    async def pause_round(self, buttons: NurseCallButtons, seconds: float) -> None:
        """SIGSTOP for ``seconds`` (a GC stall, a partition): it wakes up believing it still
        holds what it held; the fence must refuse its writes."""
        victim = await self.victim(0)
        survivor = next(i for i in self.cluster.instances if i is not victim)
        victim.pause()
        paused = now()

        async def resume() -> None:
            await asyncio.sleep(max(0.0, seconds - (now() - paused)))
            victim.resume()

        await self.after_loss(survivor, buttons, f"pause of {victim.name}", resume)
        await victim.wait_ready(self.http)

    async def cut_round(self, name: str, buttons: NurseCallButtons, seconds: float) -> None:
        """``name`` cut off PostgreSQL for ``seconds`` (still on the broker and the PBX)."""
        proxy = self.cluster.proxies[name]
        cut_off = self.cluster.by_name(name)
        survivor = next(i for i in self.cluster.instances if i is not cut_off)
        proxy.cut()
        cut = now()

        async def mend() -> None:
            await asyncio.sleep(max(0.0, seconds - (now() - cut)))
            proxy.mend()

        await self.after_loss(survivor, buttons, f"{name} cut off PostgreSQL", mend)
        await cut_off.wait_ready(self.http)


async def press_steadily(buttons: NurseCallButtons, stop: asyncio.Event, every: float) -> None:
    while await buttons.press() is not None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)
        if stop.is_set():
            return


@pytest.mark.timeout(600)
async def test_kill_the_lease_holder_under_load(tmp_path: Path) -> None:
    need_postgres()
    need_mosquitto()
    async with running_cluster(
        tmp_path, ("a", "b"), beds=400, proxied=("b",), extra_env=LEASES
    ) as cluster:
        beds = cluster.beds
        adt_beds, final_beds = beds[: 3 * len(beds) // 4 - 4], beds[3 * len(beds) // 4 - 4 :]
        plan = AdtPlan(adt_beds, SEED)
        feeds = [
            AdtFeed("F1", cluster.instances, plan),
            AdtFeed("F2", list(reversed(cluster.instances)), plan),
        ]
        writes = BedsideWrites(cluster)
        stop = asyncio.Event()
        async with (
            aiohttp.ClientSession() as http,
            NurseCallButtons(beds[::-1], cluster.topic_root) as buttons,
        ):
            chaos = Chaos(cluster, http)
            for console in chaos.consoles.values():
                console.start()
            load = [
                *(asyncio.create_task(f.run(stop)) for f in feeds),
                asyncio.create_task(press_steadily(buttons, stop, 2.0)),
                asyncio.create_task(writes.run(stop, 0.5)),
            ]
            try:
                for round_no in range(ROUNDS):
                    await asyncio.sleep(chaos.rng.uniform(0.2, 1.0))
                    if round_no == ROUNDS // 3:
                        await chaos.pause_round(buttons, 6.0)
                    if round_no == 2 * ROUNDS // 3:
                        await chaos.cut_round("b", buttons, 6.0)
                    await chaos.kill_round(round_no, buttons)
            finally:
                stop.set()
                await asyncio.gather(*load)
                for feed in feeds:
                    await feed.close()
            for console in chaos.consoles.values():
                await asyncio.wait_for(console.connected.wait(), 20)
            final = AdtPlan(final_beds, SEED, prefix="VX")
            final_feeds = await chaos.across_instances(final, buttons)
            for console in chaos.consoles.values():
                await console.stop()
            await settle(writes.delivered, 30)
            await settle(lambda: _lines_settled(cluster), 30)
            found = Findings()
            for part in (
                await adt_findings(cluster, feeds, plan),
                await adt_findings(cluster, final_feeds, final),
                await line_findings(cluster),
                await nurse_call_findings(cluster, buttons.presses, chaos.rings),
                writes.findings(chaos.kills),
                chaos.found,
            ):
                for kind, items in part.problems.items():
                    for item in items:
                        found.add(kind, item)
            await writes.close()
        sent = sum(len(f.sent) for f in feeds)
        summary = (
            f"{chaos.kills} kills, {sent} ADT messages ({sum(f.resends for f in feeds)} resent "
            f"unacked, {sum(f.refusals for f in feeds)} redirected), "
            f"{len(buttons.presses)} presses ({buttons.resends} sent again), "
            f"{len(writes.ids)} bedside writes"
        )
        print(summary, "; rounds (checks+restart, s):", " ".join(chaos.timings))
        assert sent > 0 and buttons.presses and writes.ids, summary
        assert not found.problems, f"{summary}\n{found.report()}"


async def _lines_settled(cluster: Cluster) -> bool:
    return not (await line_findings(cluster)).problems
