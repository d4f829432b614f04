"""Event-loop lag of the service under AMI calls and ADT at once, beside a bare loop's.

The service (telephony, EHR bridge and web, on PostgreSQL) runs in this process with its loop
monitor; the PBX simulator placing ``--calls`` calls a second (each ringing, half answered,
hung up after two seconds) and the MLLP senders pushing ``--adt`` messages a second (A01,
A02, A08, A03 per patient) run in other processes, so their work is not counted as ours. A
bare asyncio loop with the same monitor runs in a third process during the same seconds: its
worst lag is what the machine's scheduler alone costs. Prints both worst lags and p99, their
ratio, and every stall of the service over ``--stall-ms`` with the task and code it named.

    python bench/loop_lag.py [--seconds 20] [--calls 30] [--adt 200] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import yaml

from bench.adt_mllp import fresh_pg, percentile, workload
from wardline.example_hospital import generate

AMI_SECRET = "bench-secret"


def _quiet() -> None:
    import logging

    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))


def pbx_process(inventory: str, calls: float, conn: Connection) -> None:
    """The PBX simulator: answers AMI, then places ``calls`` calls a second until told."""
    _quiet()

    async def main() -> None:
        from telephony.pbx_simulator import PbxSimulator
        from telephony.sim_demo import DemoCalls

        sim = await PbxSimulator.from_inventory(
            Path(inventory), users={"wardline": AMI_SECRET}
        ).start()
        conn.send(sim.port)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, conn.recv)  # "go"
        driver = DemoCalls(sim, patience=2.0, answer_after=0.5, answer_ratio=0.5, seed=7)
        seconds = float(await loop.run_in_executor(None, conn.recv))
        end = time.monotonic() + seconds
        next_at = time.monotonic()
        while time.monotonic() < end:
            driver.place()
            next_at += 1 / calls
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        conn.send(sum(driver.placed.values()))
        await asyncio.sleep(2.5)
        driver.stop()
        await sim.stop()

    asyncio.run(main())


def adt_process(
    port: int, rate: float, seconds: float, beds: int, senders: int, conn: Connection
) -> None:
    """MLLP senders pacing ``rate`` messages a second in all, each waiting for its ACK."""
    _quiet()

    async def main() -> None:
        from hl7.mllp import open_hl7_connection

        patients = int(rate * seconds / 4) + senders
        work = workload(patients, beds, "L")
        sent = accepted = 0
        start = time.monotonic()

        async def sender(i: int) -> None:
            nonlocal sent, accepted
            reader, writer = await open_hl7_connection("127.0.0.1", port)
            per_sender = rate / senders
            next_at = start + i / rate
            try:
                for messages in work[i::senders]:
                    for message in messages:
                        if time.monotonic() - start > seconds:
                            return
                        await asyncio.sleep(max(0.0, next_at - time.monotonic()))
                        next_at += 1 / per_sender
                        writer.writeblock(message)
                        await writer.drain()
                        ack = await reader.readblock()
                        sent += 1
                        accepted += b"MSA|AA|" in ack
            finally:
                writer.close()

        await asyncio.gather(*(sender(i) for i in range(senders)))
        conn.send((sent, accepted, time.monotonic() - start))

    asyncio.run(main())


def bare_process(seconds: float, conn: Connection) -> None:
    """A bare loop with the same monitor, nothing else."""
    _quiet()

    async def main() -> None:
        from wardline.loop_monitor import LoopMonitor

        monitor = LoopMonitor(threshold=10.0, samples=[])
        task = asyncio.create_task(monitor.run())
        await asyncio.sleep(seconds)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        conn.send(monitor.samples)

    asyncio.run(main())


class StepTimer:
    """CPU time of every step the loop runs (one callback, or one step of a task between two
    awaits), measured with the loop thread's CPU clock, so a busy machine does not inflate it:
    the figure "no step over 50 ms" is about our code, not about the scheduler."""

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold
        self.slow: list[tuple[float, str]] = []
        self.worst: dict[str, float] = {}
        self._original: Any = None
        self.gc_cpu = 0.0
        self._gc_start = 0.0

    def _gc(self, phase: str, _info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_start = time.thread_time()
        else:
            self.gc_cpu += time.thread_time() - self._gc_start

    def install(self) -> None:
        from asyncio import events

        self._original = original = events.Handle._run
        timer = self

        import gc

        gc.callbacks.append(self._gc)

        def _run(handle: Any) -> None:
            start, gc_before = time.thread_time(), timer.gc_cpu
            original(handle)
            spent = time.thread_time() - start
            in_gc = timer.gc_cpu - gc_before
            group = timer.group(handle)
            if spent > timer.worst.get(group, 0.0):
                timer.worst[group] = spent
            if spent >= timer.threshold:
                gc_note = f", {in_gc * 1000:.0f} ms of it in the garbage collector" if in_gc else ""
                timer.slow.append((spent, timer.name(handle) + gc_note))

        events.Handle._run = _run  # type: ignore[method-assign]

    def remove(self) -> None:
        import gc
        from asyncio import events

        events.Handle._run = self._original  # type: ignore[method-assign]
        gc.callbacks.remove(self._gc)

    @staticmethod
    def _task(handle: Any) -> Any:
        owner = getattr(handle._callback, "__self__", None)
        return owner if isinstance(owner, asyncio.Task) else None

    def group(self, handle: Any) -> str:
        task = self._task(handle)
        if task is None:
            callback = handle._callback
            owner = getattr(callback, "__self__", None)
            kind = type(owner).__qualname__ if owner is not None else ""
            return f"callback {kind}.{getattr(callback, '__name__', '?')}".replace(" .", " ")
        name = task.get_name()
        return "task " + (name.rsplit("-", 1)[0] if name.startswith("Task-") else name)

    def name(self, handle: Any) -> str:
        task = self._task(handle)
        if task is None:
            return self.group(handle)
        coro = task.get_coro()
        return f"{self.group(handle)} ({getattr(coro, '__qualname__', coro)})"


def figures(samples: list[float]) -> dict[str, float]:
    return {
        "worst_ms": round(max(samples, default=0.0) * 1000, 1),
        "p99_ms": round(percentile(samples, 99) * 1000, 2) if samples else 0.0,
        "samples": len(samples),
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    from ehr_bridge.component import setup as ehr_setup
    from kiosk_ui.component import setup as web_setup
    from telephony.component import TELEPHONY
    from telephony.component import setup as telephony_setup
    from wardline import appkeys as k
    from wardline.app import build_app
    from wardline.db.engine import create_database
    from wardline.domain.audit import AuditLog
    from wardline.domain.commands import SYSTEM_ADMIN_CLI
    from wardline.domain.inventory import load_inventory
    from wardline.settings import Settings

    spawn = mp.get_context("spawn")
    async with fresh_pg(args.pg) as url:
        with tempfile.TemporaryDirectory() as folder:
            inventory = Path(folder) / "hospital.yaml"
            inventory.write_text(yaml.safe_dump(generate(beds=args.beds)))
            db = await create_database(url)
            await load_inventory(db, inventory, SYSTEM_ADMIN_CLI, AuditLog())
            pbx_end, pbx_child = spawn.Pipe()
            pbx = spawn.Process(target=pbx_process, args=(str(inventory), args.calls, pbx_child))
            pbx.start()
            ami_port = await asyncio.to_thread(pbx_end.recv)
            settings = Settings(
                data_dir=Path(folder),
                database_url=url,
                db_auto_upgrade=False,
                ami_port=ami_port,
                ami_secret=AMI_SECRET,  # type: ignore[arg-type]
                mqtt_enabled=False,
                mllp_port=0,
                did_quarantine_hours=0,
                loop_stall_seconds=args.stall_ms / 1000,
            )
            app = build_app(
                settings, database=db, components=[telephony_setup, ehr_setup, web_setup]
            )
            from aiohttp import web

            runner = web.AppRunner(app)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", 0).start()
            try:
                await app[TELEPHONY].link.wait_synced(10)
                monitor = app[k.LOOP_MONITOR]
                monitor.samples = []
                monitor.stalls.clear()
                mllp_port = _mllp_port(app)
                bare_end, bare_child = spawn.Pipe()
                adt_end, adt_child = spawn.Pipe()
                bare = spawn.Process(target=bare_process, args=(args.seconds, bare_child))
                adt = spawn.Process(
                    target=adt_process,
                    args=(mllp_port, args.adt, args.seconds, args.beds, args.senders, adt_child),
                )
                steps = StepTimer(args.stall_ms / 1000)
                steps.install()
                cpu_start, wall_start = time.process_time(), time.monotonic()
                pbx_end.send("go")
                bare.start()
                adt.start()
                pbx_end.send(args.seconds)
                placed = await asyncio.to_thread(pbx_end.recv)
                sent, accepted, adt_seconds = await asyncio.to_thread(adt_end.recv)
                bare_samples = await asyncio.to_thread(bare_end.recv)
                steps.remove()
                cores = (time.process_time() - cpu_start) / (time.monotonic() - wall_start)
                service_samples = list(monitor.samples)
                stalls = list(monitor.stalls)
                for process in (bare, adt, pbx):
                    await asyncio.to_thread(process.join, 10)
            finally:
                await runner.cleanup()
                await db.dispose()
    service, baseline = figures(service_samples), figures(bare_samples)
    ratio = service["worst_ms"] / baseline["worst_ms"] if baseline["worst_ms"] else 0.0
    print(
        f"{args.seconds:.0f} s under {placed / args.seconds:.1f} calls/s over AMI and "
        f"{sent / adt_seconds:.0f} ADT messages/s over MLLP ({accepted}/{sent} AA)"
    )
    print(
        f"service loop: worst {service['worst_ms']} ms, p99 {service['p99_ms']} ms; "
        f"bare loop: worst {baseline['worst_ms']} ms, p99 {baseline['p99_ms']} ms; "
        f"worst x{ratio:.2f}"
    )
    print(f"the service used {cores:.2f} cores of CPU meanwhile (1.0: one core, saturated)")
    ours = [s for s in stalls if s.cpu * 1000 >= args.stall_ms]
    print(
        f"stalls over {args.stall_ms:.0f} ms: {len(stalls)}, of which {len(ours)} with as much"
        " CPU on the loop (our code; the others: waiting for a core)"
    )
    for stall in stalls:
        print(
            f"  {stall.seconds * 1000:4.0f} ms (cpu {stall.cpu * 1000:4.0f} ms)"
            f"  task {stall.task}  at {stall.where}"
        )
    print(f"steps of the loop over {args.stall_ms:.0f} ms of CPU: {len(steps.slow)}")
    for spent, name in sorted(steps.slow, reverse=True)[:15]:
        print(f"  {spent * 1000:5.1f} ms  {name}")
    worst_steps = sorted(steps.worst.items(), key=lambda kv: -kv[1])[:12]
    print("worst step of each kind (CPU):")
    for group, spent in worst_steps:
        print(f"  {spent * 1000:5.1f} ms  {group}")
    return {
        "bench": "loop_lag",
        "seconds": args.seconds,
        "calls_per_second": round(placed / args.seconds, 1),
        "adt_per_second": round(sent / adt_seconds, 1),
        "adt_sent": sent,
        "adt_accepted": accepted,
        "wardline": service,
        "baseline_bare_loop": baseline,
        "ratio_worst": round(ratio, 2),
        "service_cores": round(cores, 2),
        "stalls": [
            {
                "ms": round(s.seconds * 1000),
                "cpu_ms": round(s.cpu * 1000),
                "task": s.task,
                "where": s.where,
            }
            for s in stalls
        ],
        "stalls_with_cpu": len(ours),
        "steps_over_threshold": [
            {"cpu_ms": round(spent * 1000, 1), "step": name} for spent, name in steps.slow
        ],
        "worst_step_cpu_ms": round(max(steps.worst.values(), default=0.0) * 1000, 1),
    }


def _mllp_port(app: Any) -> int:
    from ehr_bridge.component import EHR

    listener = app[EHR].listener
    assert listener is not None and listener.port is not None
    port = listener.port
    return int(port)


def cli() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--calls", type=float, default=30.0, help="AMI calls placed a second")
    parser.add_argument("--adt", type=float, default=200.0, help="ADT messages a second")
    parser.add_argument("--beds", type=int, default=400)
    parser.add_argument("--senders", type=int, default=16, help="MLLP connections")
    parser.add_argument("--stall-ms", type=float, default=50.0)
    parser.add_argument(
        "--pg",
        default=os.environ.get("WARDLINE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test"),
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object last")
    args = parser.parse_args()
    _quiet()
    result = asyncio.run(main(args))
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(cli())
