"""Bed line activation benchmark: admissions against the PBX simulator (and, with
``--asterisk``, a real Asterisk 22 loaded with the generated configuration) over real AMI.

For each of N admissions (default 2,000, examples/hospital-2000.yaml, SQLite in a temporary
directory, the PBX simulator in its own process as a real PBX would be): the time from the
admission command to the line being active (its AstDB keys written and acknowledged by the
PBX), p50/p99 and throughput; then the time to reconcile every bed after a PBX restart (AstDB
empty: every key rewritten; target under 2 s), after a reconnect with nothing to repair, and
through a real AMI drop and reconnect. Baselines in the same run: raw DBPut round trips one at
a time (the floor of one admission's PBX cost) and the same number of raw DBPuts with the
reconcile's concurrency.

With ``--asterisk /opt/asterisk22/sbin/asterisk`` (default: ``WARDLINE_TEST_ASTERISK``) the
same run is made a second time against a real Asterisk started in a temporary directory with
the generated configuration of the same 2,000-bed hospital (``tests/telephony/real_pbx.py``;
only an administrator's AMI account is added, for the baselines and the AstDB wipes): its
figures are the ``asterisk`` object of the JSON, the simulator's stay at the top level as the
baseline of the same run. The load average at the start and the end is printed beside them.

    python bench/line_activation.py [--admissions N] [--asterisk PATH] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests/ as a package (the real-Asterisk harness)
INVENTORY = ROOT / "examples" / "hospital-2000.yaml"


ADMIN = "bench-admin"
"""A PBX administrator's account (system class) for the baselines and the AstDB wipes; the
service's own account cannot DBPut or DBDelTree (issue 18)."""


class SimulatorProcess:
    """The PBX simulator in its own process, as a real PBX would be (``wardline pbx simulator``)."""

    def __init__(self, proc: asyncio.subprocess.Process, port: int) -> None:
        self.proc, self.port = proc, port

    @classmethod
    async def start(cls) -> SimulatorProcess:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "wardline", "pbx", "simulator", "--port", "0",
            "--admin-user", ADMIN, cwd=ROOT,
            env={**os.environ, "WARDLINE_AMI_SECRET": "wardline-secret",
                 "WARDLINE_LOG_LEVEL": "WARNING"},
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        match = re.search(r"AMI on [0-9.]+:(\d+)", line)
        if match is None:
            proc.kill()
            raise RuntimeError(f"the simulator did not start: {line!r}")
        return cls(proc, int(match.group(1)))

    @property
    def secret(self) -> str:
        return "wardline-secret"

    async def stop(self) -> None:
        self.proc.terminate()
        await self.proc.wait()


class AsteriskProcess:
    """A real Asterisk 22 on the generated configuration of the same hospital, plus an
    administrator's AMI account (``system`` class: DBPut, DBDelTree) for the baselines."""

    def __init__(self, real: Any) -> None:
        self.real = real

    @classmethod
    async def start(cls, binary: Path) -> AsteriskProcess:
        from telephony.config.plan import plan_from_file
        from tests.telephony.real_pbx import RealPbx
        from wardline.domain.inventory_file import read_inventory

        root = Path(tempfile.mkdtemp(prefix="wl-bench-ast-"))
        real = RealPbx(root, binary, plan=plan_from_file(read_inventory(INVENTORY)))
        real.write_config()
        with (real.etc / "manager.conf").open("a", encoding="utf-8") as conf:
            conf.write(
                f"\n[{ADMIN}]\nsecret = {real.settings().asterisk_sip_secret_seed}-admin\n"
                "deny = 0.0.0.0/0.0.0.0\npermit = 127.0.0.1/255.255.255.255\n"
                "read = system\nwrite = system,call,originate,reporting\n"
            )
        await real.start(within=180)
        return cls(real)

    @property
    def port(self) -> int:
        return int(self.real.ami_port)

    @property
    def secret(self) -> str:
        from tests.telephony.real_pbx import AMI_SECRET

        return AMI_SECRET

    @property
    def admin_secret(self) -> str:
        return f"{self.real.settings().asterisk_sip_secret_seed}-admin"

    async def stop(self) -> None:
        await self.real.stop()
        shutil.rmtree(self.real.root, ignore_errors=True)


async def wipe(link: Any, *families: str) -> None:
    """Delete whole AstDB families (a PBX restart that lost its AstDB)."""
    from telephony.errors import PbxActionFailed

    for family in families:
        with contextlib.suppress(PbxActionFailed):  # an empty family answers an error
            await link.send({"Action": "DBDelTree", "Family": family})


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run(admissions: int, asterisk: Path | None = None) -> dict[str, Any]:
    from telephony.ami.link import AmiLink, Backoff
    from telephony.calls.session import PbxSession
    from telephony.lines.bed_lines import BedLines
    from telephony.lines.keys import all_keys
    from telephony.lines.reads import active_lines
    from wardline.bus import EventBus
    from wardline.db.engine import Database, upgrade
    from wardline.domain import commands as c
    from wardline.domain import events as ev
    from wardline.domain.audit import AuditLog
    from wardline.domain.inventory import load_inventory
    from wardline.domain.inventory_file import read_inventory
    from wardline.domain.stays import Stays

    inv = read_inventory(INVENTORY)
    labels = [inv.bed_label(w, r, b) for _s, w, r, b in inv.beds()][:admissions]
    tmp = Path(tempfile.mkdtemp(prefix="wl-bench-lines-"))
    url = f"sqlite+aiosqlite:///{tmp / 'bench.db'}"
    await upgrade(url)
    db = Database(url)
    bus, audit = EventBus(), AuditLog()
    await load_inventory(db, INVENTORY, c.SYSTEM_ADMIN_CLI, audit)
    stays = Stays(db, bus, audit)
    sim: SimulatorProcess | AsteriskProcess
    if asterisk is None:
        sim = await SimulatorProcess.start()
        admin_secret = "wardline-secret"
    else:
        sim = await AsteriskProcess.start(asterisk)
        admin_secret = sim.admin_secret
    link = AmiLink(
        host="127.0.0.1",
        port=sim.port,
        username="wardline",
        secret=sim.secret,
        action_timeout=30.0,
        backoff=Backoff(initial=0.05, maximum=0.2),
    )
    session = PbxSession(link, bus.publish)
    admin = AmiLink(
        host="127.0.0.1",
        port=sim.port,
        username=ADMIN,
        secret=admin_secret,
        action_timeout=30.0,
        backoff=Backoff(initial=0.05, maximum=0.2),
    )
    bed_lines = BedLines(session.actions, db)
    bed_lines.subscribe(bus)
    await bus.start()
    await session.start()
    await admin.start()
    await link.wait_synced(30)
    await admin.wait_synced(30)

    async def db_put(key: str) -> None:
        await admin.send({"Action": "DBPut", "Family": "bench", "Key": key, "Val": "1"})

    await bus.drain()
    await bed_lines.wait_reconciled()
    try:
        # baseline 1: raw DBPut round trips, one at a time
        raw: list[float] = []
        for i in range(admissions):
            t0 = time.perf_counter()
            await db_put(str(i))
            raw.append(time.perf_counter() - t0)
        await wipe(admin, "bench")

        # admissions, one after the other, each until its line is active
        waiting: dict[int, asyncio.Future[None]] = {}

        def applied(event: ev.DomainEvent) -> None:
            if isinstance(event, ev.StayAdmitted) and event.stay_id in waiting:
                waiting.pop(event.stay_id).set_result(None)

        bed_lines.on_applied = applied
        total: list[float] = []
        line_part: list[float] = []
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        for i, label in enumerate(labels):
            patient = c.PatientData(
                ipp=f"B{i:05d}", family_name=f"Bench{i}", given_name="Test",
                birth_date=date(1960, 1, 1),
            )  # fmt: skip
            t0 = time.perf_counter()
            done: asyncio.Future[None] = loop.create_future()
            # admit publishes and returns with no await in between: registering here is in time
            view = await stays.admit(
                c.Admit(
                    visit_number=f"BV{i:05d}", patient=patient, location=c.BedLocation(label=label)
                ),
                c.SYSTEM_ADT,
            )
            t1 = time.perf_counter()
            waiting[view.stay_id] = done
            await asyncio.wait_for(done, 30)
            t2 = time.perf_counter()
            total.append(t2 - t0)
            line_part.append(t2 - t1)
        elapsed = time.perf_counter() - started
        keys = len(await session.actions.tree("bed")) + len(await session.actions.tree("did"))

        # baseline 2: the same number of raw DBPuts, 64 in flight
        limit = asyncio.Semaphore(64)

        async def put(i: int) -> None:
            async with limit:
                await db_put(str(i))

        raw_runs: list[float] = []
        for _ in range(3):  # best of three, like the reconcile below
            t0 = time.perf_counter()
            await asyncio.gather(*(put(i) for i in range(keys)))
            raw_runs.append(time.perf_counter() - t0)
            await wipe(admin, "bench")
        raw_concurrent = min(raw_runs)

        # reconcile after a PBX restart (AstDB lost): every key rewritten
        full_runs: list[float] = []
        for _ in range(5):  # worst of five is the figure held to the 2 s target
            await wipe(admin, "bed", "did")
            t0 = time.perf_counter()
            repair = await bed_lines.reconcile()
            full_runs.append(time.perf_counter() - t0)
            assert repair.changed == keys, (repair.changed, keys)
        full_reconcile = min(full_runs)
        # what the PBX holds afterwards is exactly what the stays want, key by key
        wanted = all_keys(await active_lines(db))
        held = {f"bed/{k}": v for k, v in (await session.actions.tree("bed")).items()}
        held.update({f"did/{k}": v for k, v in (await session.actions.tree("did")).items()})
        assert held == wanted, "AstDB differs from the stays after the reconcile"
        # reconcile after a reconnect with nothing to repair
        t0 = time.perf_counter()
        await bed_lines.reconcile()
        quiet_reconcile = time.perf_counter() - t0

        # the real path: the AMI connection drops, the link reconnects, the bus triggers it
        await wipe(admin, "bed", "did")
        bed_lines.last_repair = None
        t0 = time.perf_counter()
        link.drop()
        while bed_lines.last_repair is None:  # noqa: ASYNC110 (a bench poll of 5 ms)
            await asyncio.sleep(0.005)
        reconnect_reconcile = time.perf_counter() - t0
        assert bed_lines.last_repair.changed == keys

    finally:
        await session.stop()
        await admin.stop()
        await bed_lines.close()
        await bus.stop()
        await sim.stop()
        await db.dispose()
        shutil.rmtree(tmp, ignore_errors=True)
    return {
        "admissions": admissions,
        "astdb_keys": keys,
        "admission_to_line_p50_ms": statistics.median(total) * 1e3,
        "admission_to_line_p99_ms": pct(total, 0.99) * 1e3,
        "line_part_p50_ms": statistics.median(line_part) * 1e3,
        "line_part_p99_ms": pct(line_part, 0.99) * 1e3,
        "admissions_per_s": admissions / elapsed,
        "baseline_dbput_p50_ms": statistics.median(raw) * 1e3,
        "baseline_dbput_p99_ms": pct(raw, 0.99) * 1e3,
        "reconcile_full_s": full_reconcile,
        "reconcile_full_worst_s": max(full_runs),
        "reconcile_full_runs_s": [round(x, 3) for x in full_runs],
        "reconcile_in_step_s": quiet_reconcile,
        "drop_to_repaired_s": reconnect_reconcile,
        "baseline_raw_puts_s": raw_concurrent,
        "reconcile_target_met": max(full_runs) < 2.0,
    }


def report(r: dict[str, Any], peer: str) -> None:
    print(f"-- against {peer}")
    print(f"admissions                        {r['admissions']} ({r['astdb_keys']} AstDB keys)")
    print(
        f"admission -> line active          p50 {r['admission_to_line_p50_ms']:.2f} ms, "
        f"p99 {r['admission_to_line_p99_ms']:.2f} ms, {r['admissions_per_s']:.0f} admissions/s"
    )
    print(
        f"  of which the line (bus, read, AstDB) p50 {r['line_part_p50_ms']:.2f} ms, "
        f"p99 {r['line_part_p99_ms']:.2f} ms"
    )
    print(
        f"baseline: one raw DBPut           p50 {r['baseline_dbput_p50_ms']:.2f} ms, "
        f"p99 {r['baseline_dbput_p99_ms']:.2f} ms "
        f"(line / DBPut p50 ratio {r['line_part_p50_ms'] / r['baseline_dbput_p50_ms']:.1f})"
    )
    runs = ", ".join(f"{x:.3f}" for x in r["reconcile_full_runs_s"])
    print(
        f"reconcile after PBX restart       best {r['reconcile_full_s']:.3f} s, "
        f"worst {r['reconcile_full_worst_s']:.3f} s of 5 ({runs}) "
        f"(target < 2 s: {'met' if r['reconcile_target_met'] else 'MISSED'}); "
        f"nothing to repair {r['reconcile_in_step_s']:.3f} s"
    )
    print(
        f"AMI dropped -> reconnected -> every key rewritten {r['drop_to_repaired_s']:.3f} s "
        "(includes the reconnect backoff)"
    )
    print(
        f"baseline: same number of raw DBPuts, 64 in flight {r['baseline_raw_puts_s']:.3f} s "
        f"(ratio {r['reconcile_full_s'] / r['baseline_raw_puts_s']:.2f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--admissions", type=int, default=2000)
    parser.add_argument(
        "--asterisk",
        default=os.environ.get("WARDLINE_TEST_ASTERISK") or None,
        help="an Asterisk 22 binary: also run against it (default: $WARDLINE_TEST_ASTERISK)",
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    from wardline.logs import configure_logging

    configure_logging("WARNING", "console")
    load_before = os.getloadavg()
    r = asyncio.run(run(args.admissions))
    report(r, "the PBX simulator")
    if args.asterisk:
        real = asyncio.run(run(args.admissions, Path(args.asterisk)))
        report(real, f"a real Asterisk ({args.asterisk})")
        r["asterisk"] = real
        r["asterisk_reconcile_vs_simulator"] = (
            real["reconcile_full_worst_s"] / r["reconcile_full_worst_s"]
        )
    load_after = os.getloadavg()
    r["load_average"] = {"before": list(load_before), "after": list(load_after)}
    print(
        "load average (1, 5, 15 min): before "
        + " ".join(f"{x:.2f}" for x in load_before)
        + ", after "
        + " ".join(f"{x:.2f}" for x in load_after)
    )
    if args.json:
        print(json.dumps(r))


if __name__ == "__main__":
    main()
