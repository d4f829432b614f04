"""Life for the simulated PBX in the demo (synthetic names only), driving only the simulator's
Python API:

- outside callers dial a patient's direct number (read from AstDB ``did/*``: the beds whose
  line Wardline opened), or the switchboard;
- an active bed calls another active bed now and then;
- a ringing bed is picked up after a few seconds (sometimes), and every call ends by itself:
  its caller hangs up after ``patience`` seconds, answered or not.
"""

from __future__ import annotations

import asyncio
import random

import structlog

from telephony.lines.astdb_keys import ACTIVE, ON, bed_key
from telephony.simulator.server import PbxSimulator

log = structlog.get_logger(__name__)

CALLERS = (
    ("0612345678", "Hélène Dupré"),
    ("0687654321", "Jean Muller"),
    ("+352691000111", "Anna Schmit"),
    ("0299887766", "Lucas Weber"),
    ("0388554433", "Claire Meyer"),
)


class DemoCalls:
    """One synthetic call at a time (:meth:`place`), each ending by itself."""

    def __init__(
        self,
        sim: PbxSimulator,
        *,
        patience: float = 60.0,
        answer_after: float = 4.0,
        answer_ratio: float = 0.5,
        seed: int | None = None,
    ) -> None:
        self.sim = sim
        self.patience = patience
        self.answer_after = answer_after
        self.answer_ratio = answer_ratio
        self.rng = random.Random(seed)
        self.timers: dict[str, asyncio.TimerHandle] = {}
        self.placed: dict[str, int] = {"did": 0, "switchboard": 0, "bed_to_bed": 0}

    def active_free_beds(self) -> list[str]:
        busy = {ch.phone for ch in self.sim.pbx.channels.values()}
        return [
            ext
            for ext in self.sim.pbx.phones
            if self.sim.is_bed(ext)
            and self.sim.astdb.get(bed_key(ext, ACTIVE)) == ON
            and ext not in busy
        ]

    def place(self) -> str | None:
        """Place one call (a DID, the switchboard or bed to bed); returns its call id."""
        roll = self.rng.random()
        dids = sorted(self.sim.dids())
        beds = self.active_free_beds()
        number, name = self.rng.choice(CALLERS)
        if len(beds) >= 2 and roll < 0.25:
            caller, callee = self.rng.sample(beds, 2)
            call_id = self.sim.dial(caller, callee)
            kind, target = "bed_to_bed", callee
        elif dids and roll < 0.75:
            did = self.rng.choice(dids)
            call_id = self.sim.external_call(to=did, caller=number, name=name)
            kind, target = "did", self.sim.dids().get(did, "")
        else:
            queue = self.sim.inventory.queue_extensions[-1]
            call_id = self.sim.external_call(to=queue, caller=number, name=name)
            kind, target = "switchboard", ""
        self.placed[kind] += 1
        log.info("sim_demo.call", kind=kind, call_id=call_id)
        loop = asyncio.get_running_loop()
        self.timers[call_id] = loop.call_later(self.patience, self.end, call_id)
        if target and self.rng.random() < self.answer_ratio:
            loop.call_later(self.answer_after, self._pick_up, target, call_id)
        return call_id

    def _pick_up(self, ext: str, call_id: str) -> None:
        ringing = self.sim.ringing(ext)
        if ringing is not None and ringing[0] == call_id:
            self.sim.answer(ext)

    def end(self, call_id: str) -> None:
        """The caller of ``call_id`` hangs up (nothing when the call is over)."""
        self.timers.pop(call_id, None)
        leg = self.sim.pbx.channels.get(call_id)
        if leg is not None:
            self.sim.pbx.hangup_channel(leg)

    def stop(self) -> None:
        """The demo stops: its callers still on the line hang up now."""
        for call_id, handle in list(self.timers.items()):
            handle.cancel()
            self.end(call_id)


async def run_demo(
    sim: PbxSimulator, every: float = 15.0, patience: float = 60.0, seed: int | None = None
) -> None:
    """Until cancelled: one new call every ``every`` seconds, each ending by itself."""
    calls = DemoCalls(sim, patience=patience, seed=seed)
    try:
        while True:
            calls.place()
            await asyncio.sleep(every)
    finally:
        calls.stop()
