"""Life for the simulated PBX in the demo: outside callers ring the switchboard now and then
(synthetic names only), an active bed calls another from time to time, and calls nobody
handles end by themselves. Drives only the simulator's Python API."""

from __future__ import annotations

import asyncio
import random

import structlog

from telephony.pbx_simulator import PbxSimulator
from telephony.sim_model import is_bed

log = structlog.get_logger(__name__)

CALLERS = (
    ("0612345678", "Hélène Dupré"),
    ("0687654321", "Jean Muller"),
    ("+352691000111", "Anna Schmit"),
    ("0299887766", "Lucas Weber"),
)


async def run_demo(
    sim: PbxSimulator, every: float = 15.0, patience: float = 60.0, seed: int | None = None
) -> None:
    """Until cancelled: one new call every ``every`` seconds; a call still unanswered (or
    still going) after ``patience`` seconds is hung up by its caller."""
    rng = random.Random(seed)
    pending: dict[str, asyncio.TimerHandle] = {}
    loop = asyncio.get_running_loop()
    try:
        while True:
            call_id = _new_call(sim, rng)
            if call_id is not None:
                pending[call_id] = loop.call_later(patience, _give_up, sim, call_id, pending)
            await asyncio.sleep(every)
    finally:
        for handle in pending.values():
            handle.cancel()


def _new_call(sim: PbxSimulator, rng: random.Random) -> str | None:
    beds = [
        ext
        for ext in sim.pbx.phones
        if is_bed(ext) and sim.astdb.get(f"bed/{ext}/active") == "1"
        and not any(ch.phone == ext for ch in sim.pbx.channels.values())
    ]  # fmt: skip
    if len(beds) >= 2 and rng.random() < 0.3:
        caller, callee = rng.sample(beds, 2)
        log.info("sim_demo.bed_call", caller=caller, callee=callee)
        return sim.dial(caller, callee)
    number, name = rng.choice(CALLERS)
    log.info("sim_demo.outside_call", to="8000")
    return sim.external_call(to="8000", caller=number, name=name)


def _give_up(sim: PbxSimulator, call_id: str, pending: dict[str, asyncio.TimerHandle]) -> None:
    pending.pop(call_id, None)
    leg = sim.pbx.channels.get(call_id)
    if leg is not None:
        sim.pbx.hangup_channel(leg)
