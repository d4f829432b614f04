"""ADT throughput over MLLP on PostgreSQL: message sent -> persisted, stay committed, AA back.

Each patient goes through A01 (admit), A02 (transfer), A08 (update) and A03 (discharge), so
beds are freed and reused. Several senders run at once, each waiting for its ACK before the
next message (as MLLP senders do); messages waiting together are group-committed (see
``ehr_bridge/adt_batches.py``) and the run prints how many batches it made. Baselines
measured in the same run: the same MLLP framing answered at once without any database
("mllp floor"), the inbox alone with a domain that accepts everything ("inbox only"), and the
same commands applied to the domain directly, without MLLP nor inbox ("domain only"). Then
one instance alone in its own process beside two instances in two processes on the same
database, the senders spread over them ("1 process", "2 processes").

    python bench/adt_mllp.py [--patients 250] [--senders 4] [--pg URL] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import yaml
from hl7.mllp import open_hl7_connection, start_hl7_server

from ehr_bridge.adt_listener import AdtListener
from ehr_bridge.adt_message import parse_adt
from ehr_bridge.adt_processing import AdtProcessor
from tests.ehr_bridge.messages import adt
from wardline.bus import EventBus
from wardline.db.engine import Database, create_database
from wardline.domain.audit import AuditLog
from wardline.domain.commands import SYSTEM_ADMIN_CLI, SYSTEM_ADT
from wardline.domain.inventory import load_inventory
from wardline.domain.stays import Stays
from wardline.example_hospital import generate

TARGET_PER_SECOND = 200.0


def workload(patients: int, beds: int, tag: str) -> list[list[bytes]]:
    """One list of messages per patient, in order; bed i and i+1 of a ward room pair."""
    doc = generate(beds=beds)
    slots = [
        (ward["code"], room["code"], bed["code"])
        for site in doc["sites"]
        for ward in site["wards"]
        for room in ward["rooms"]
        for bed in room["beds"]
    ]
    out = []
    for n in range(patients):
        ward, room, bed = slots[(2 * n) % len(slots)]
        ward2, room2, bed2 = slots[(2 * n + 1) % len(slots)]
        common = {
            "ipp": f"{tag}{n:06d}",
            "visit": f"V{tag}{n:06d}",
            "ward": ward,
            "room": room,
            "bed": bed,
        }
        out.append(
            [
                adt("A01", f"{tag}-{n}-1", **common),  # type: ignore[arg-type]
                adt("A02", f"{tag}-{n}-2", **dict(common, ward=ward2, room=room2, bed=bed2)),  # type: ignore[arg-type]
                adt(
                    "A08",
                    f"{tag}-{n}-3",
                    **dict(common, ward=ward2, room=room2, bed=bed2, family="DURAND"),
                ),  # type: ignore[arg-type]
                adt("A03", f"{tag}-{n}-4", **dict(common, ward=ward2, room=room2, bed=bed2)),  # type: ignore[arg-type]
            ]
        )
    return out


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def drive(
    port: int | list[int], work: list[list[bytes]], senders: int
) -> tuple[float, list[float], int]:
    """Send every patient's messages, spread over senders (sender i to the i-th port, in
    turn, when several instances listen): (seconds, latencies, non-AA)."""
    ports = port if isinstance(port, list) else [port]
    latencies: list[float] = []
    refused = 0

    async def sender(chunk: list[list[bytes]], port: int) -> None:
        nonlocal refused
        reader, writer = await open_hl7_connection("127.0.0.1", port)
        try:
            for messages in chunk:
                for message in messages:
                    start = time.perf_counter()
                    writer.writeblock(message)
                    await writer.drain()
                    ack = await reader.readblock()
                    latencies.append(time.perf_counter() - start)
                    if b"MSA|AA|" not in ack:
                        refused += 1
        finally:
            writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(sender(work[i::senders], ports[i % len(ports)]) for i in range(senders)))
    return time.perf_counter() - start, latencies, refused


async def mllp_floor(work: list[list[bytes]], senders: int) -> tuple[float, list[float], int]:
    ack = b"MSH|^~\\&|WARDLINE||||20260101||ACK|1|P|2.5\rMSA|AA|1\r"

    async def connected(reader: object, writer: object) -> None:
        try:
            while True:
                await reader.readblock()  # type: ignore[attr-defined]
                writer.writeblock(ack)  # type: ignore[attr-defined]
                await writer.drain()  # type: ignore[attr-defined]
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()  # type: ignore[attr-defined]

    server = await start_hl7_server(connected, "127.0.0.1", 0)
    try:
        return await drive(server.sockets[0].getsockname()[1], work, senders)
    finally:
        server.close()


@asynccontextmanager
async def fresh_pg(admin_url: str) -> AsyncIterator[str]:
    import asyncpg

    name = f"wl_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(admin_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    base = admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    try:
        yield f"{base}/{name}"
    finally:
        admin = await asyncpg.connect(admin_url)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def hospital(url: str, beds: int) -> tuple[Database, Stays]:
    db = await create_database(url)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "hospital.yaml"
        path.write_text(yaml.safe_dump(generate(beds=beds)))
        audit = AuditLog()
        await load_inventory(db, path, SYSTEM_ADMIN_CLI, audit)
    # DIDs are reused at once: the benchmark admits more patients than the pool holds
    return db, Stays(db, EventBus(), audit, quarantine=timedelta(0))


async def serve_instance(url: str) -> None:
    """``--serve-instance URL``: one instance's ADT path (engine, domain, listener) in this
    process; prints its port, then its batch counts when stdin closes."""
    db = Database(url)
    processor = AdtProcessor(db, Stays(db, EventBus(), AuditLog(), quarantine=timedelta(0)))
    listener = AdtListener(processor, port=0)
    await listener.start()
    print(listener.port, flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    print(json.dumps([processor.batches.batches, processor.batches.split]), flush=True)
    await listener.stop()
    await db.dispose()


async def instances(
    url: str, work: list[list[bytes]], senders: int, count: int
) -> tuple[float, list[float], int, tuple[int, int]]:
    """``count`` instances, each its own process, on one database, the senders spread over
    them; they claim their messages (``ehr_bridge/adt_claims.py``)."""
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "--serve-instance",
            url,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        for _ in range(count)
    ]
    grouped = [0, 0]
    try:
        ports = []
        for proc in procs:
            assert proc.stdout is not None
            ports.append(int(await proc.stdout.readline()))
        seconds, latencies, refused = await drive(ports, work, senders)
    finally:
        for proc in procs:
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.close()
            line = await proc.stdout.readline()
            if line:
                batches, split = json.loads(line)
                grouped = [grouped[0] + batches, grouped[1] + split]
            await proc.wait()
    return seconds, latencies, refused, (grouped[0], grouped[1])


class NoDomain:
    """A domain that accepts everything at once: what the inbox and MLLP cost alone."""

    async def apply(self, command: object, actor: object) -> None:
        return None

    async def apply_in(
        self, session: object, command: object, actor: object
    ) -> tuple[None, list[Any]]:
        return None, []

    def publish(self, events: list[Any]) -> None:
        return None


async def timed_domain(
    stays: Stays, work: list[list[bytes]], senders: int
) -> tuple[float, list[float]]:
    latencies: list[float] = []

    async def one(chunk: list[list[bytes]]) -> None:
        for messages in chunk:
            for message in messages:
                start = time.perf_counter()
                await stays.apply(parse_adt(message).command, SYSTEM_ADT)
                latencies.append(time.perf_counter() - start)

    start = time.perf_counter()
    await asyncio.gather(*(one(work[i::senders]) for i in range(senders)))
    return time.perf_counter() - start, latencies


def summary(name: str, seconds: float, latencies: list[float]) -> dict[str, float]:
    rate = len(latencies) / seconds
    p50, p99 = percentile(latencies, 50) * 1000, percentile(latencies, 99) * 1000
    print(
        f"{name:<14} {len(latencies):>6} msgs {rate:>9.1f} msg/s"
        f"   p50 {p50:7.2f} ms   p99 {p99:7.2f} ms"
    )
    return {
        "messages": len(latencies),
        "per_second": round(rate, 1),
        "p50_ms": round(p50, 2),
        "p99_ms": round(p99, 2),
    }


async def main(args: argparse.Namespace) -> dict[str, object]:
    beds = max(40, 2 * args.senders * 10)
    async with fresh_pg(args.pg) as url:
        db, stays = await hospital(url, beds)
        try:
            # patients of different senders never share a bed pair at the same time
            work = workload(args.patients, beds, "B")
            floor_s, floor_lat, _ = await mllp_floor(work, args.senders)
            processor = AdtProcessor(db, stays)
            listener = AdtListener(processor, port=0)
            await listener.start()
            try:
                assert listener.port is not None
                seconds, latencies, refused = await drive(listener.port, work, args.senders)
                grouped = processor.batches.batches, processor.batches.split
            finally:
                await listener.stop()
            one_s, one_lat, one_refused, _ = await instances(
                url, workload(args.patients, beds, "S"), args.senders, 1
            )
            two_s, two_lat, two_refused, two_grouped = await instances(
                url, workload(args.patients, beds, "T"), args.senders, 2
            )
            inbox_only = AdtListener(AdtProcessor(db, NoDomain()), port=0)
            await inbox_only.start()
            try:
                assert inbox_only.port is not None
                inbox_work = workload(args.patients, beds, "I")
                inbox_s, inbox_lat, _ = await drive(inbox_only.port, inbox_work, args.senders)
            finally:
                await inbox_only.stop()
            domain_s, domain_lat = await timed_domain(
                stays, workload(args.patients, beds, "D"), args.senders
            )
        finally:
            await db.dispose()
    print(
        f"ADT over MLLP on PostgreSQL, {args.patients} patients x 4 messages,"
        f" {args.senders} senders"
    )
    result = summary("wardline", seconds, latencies)
    one = summary("1 process", one_s, one_lat)
    two = summary("2 processes", two_s, two_lat)
    floor = summary("mllp floor", floor_s, floor_lat)
    inbox = summary("inbox only", inbox_s, inbox_lat)
    domain = summary("domain only", domain_s, domain_lat)
    ratio_target = result["per_second"] / TARGET_PER_SECOND
    print(
        f"target {TARGET_PER_SECOND:.0f} msg/s: x{ratio_target:.2f}; "
        f"vs domain only: x{result['per_second'] / domain['per_second']:.2f}; "
        f"vs mllp floor: x{result['per_second'] / floor['per_second']:.3f}; non-AA: {refused}"
    )
    print(f"group commits: {grouped[0]} batches, {grouped[1]} split back into single messages")
    print(
        f"two instances (processes) on one database: x{two['per_second'] / one['per_second']:.2f}"
        f" of one; non-AA: {one_refused} and {two_refused}; "
        f"{two_grouped[0]} batches, {two_grouped[1]} split"
    )
    return {
        "bench": "adt_mllp",
        "wardline": result,
        "baseline_mllp_floor": floor,
        "baseline_domain_only": domain,
        "baseline_inbox_only": inbox,
        "target_per_second": TARGET_PER_SECOND,
        "ratio_to_target": round(ratio_target, 2),
        "ratio_to_domain_only": round(result["per_second"] / domain["per_second"], 3),
        "non_aa": refused,
        "one_instance_process": one,
        "two_instance_processes": two,
        "two_instances_ratio_to_one": round(two["per_second"] / one["per_second"], 3),
        "instances_non_aa": one_refused + two_refused,
        "batches": grouped[0],
        "batches_split": grouped[1],
    }


def cli() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--patients", type=int, default=250)
    parser.add_argument("--senders", type=int, default=4)
    parser.add_argument(
        "--pg",
        default=os.environ.get("WARDLINE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test"),
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object last")
    parser.add_argument("--serve-instance", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    import logging

    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    if args.serve_instance:
        asyncio.run(serve_instance(args.serve_instance))
        return 0
    result = asyncio.run(main(args))
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(cli())
