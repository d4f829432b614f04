"""The broker's retained state is rebuilt from the database after every connection: a private
Mosquitto with persistence on is killed (-9) at random points during admissions, transfers
and discharges and restarted from its last save; once the service has resynced, every
terminal shows exactly who lies in its bed (or nothing), round after round."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import aiomqtt
import pytest

from bedside.contract import parse_config, parse_context
from bedside.edge import BedsideEdge
from bedside.options import BedsideOptions
from bedside.topics import Topics
from tests.bedside.conftest import PrivateBroker, retained
from tests.bedside.ward import seed_ward
from tests.services import wait_until
from wardline.bus import EventBus
from wardline.db.engine import Database
from wardline.domain import commands as c
from wardline.domain.audit import AuditLog
from wardline.domain.errors import DomainError
from wardline.domain.stays import Stays
from wardline.settings import Settings

BEDS = 24
ROUNDS = 20
ACTOR = c.Actor(name="system:test")


def bed_label(i: int) -> str:
    return f"K1-{i:03d}-A"


class Ward:
    """Admissions, transfers and discharges at random, as the ADT feed would send them."""

    def __init__(self, stays: Stays, seed: int) -> None:
        self.stays = stays
        self.random = random.Random(seed)
        self.visits: dict[str, str] = {}  # visit number -> bed label
        self.admitted = 0
        self.operations = 0
        self.stopping = False

    def free_beds(self) -> list[str]:
        taken = set(self.visits.values())
        return [bed_label(i) for i in range(BEDS) if bed_label(i) not in taken]

    async def step(self) -> None:
        roll = self.random.random()
        free = self.free_beds()
        try:
            if (roll < 0.4 or not self.visits) and free:
                self.admitted += 1
                visit = f"V{self.admitted}"
                patient = c.PatientData(
                    ipp=f"IPP-{self.admitted}", family_name="Kfamily",
                    given_name=f"Given{self.admitted}",
                )  # fmt: skip
                where = c.BedLocation(label=self.random.choice(free))
                await self.stays.admit(
                    c.Admit(visit_number=visit, patient=patient, location=where), ACTOR
                )
                self.visits[visit] = where.label or ""
            elif roll < 0.7 and free and self.visits:
                visit = self.random.choice(sorted(self.visits))
                to = self.random.choice(free)
                await self.stays.transfer(
                    c.Transfer(visit_number=visit, location=c.BedLocation(label=to)), ACTOR
                )
                self.visits[visit] = to
            elif self.visits:
                visit = self.random.choice(sorted(self.visits))
                await self.stays.discharge(c.Discharge(visit_number=visit), ACTOR)
                del self.visits[visit]
            self.operations += 1
        except DomainError:
            pass

    async def churn(self) -> None:
        while not self.stopping:
            await self.step()
            await asyncio.sleep(self.random.uniform(0, 0.02))


@asynccontextmanager
async def churning(ward: Ward) -> AsyncIterator[None]:
    """The ward busy in the background; stopped between two commands (a task cancelled
    between a command's commit and its events would lose them: not what is tested here)."""
    ward.stopping = False
    task = asyncio.create_task(ward.churn())
    try:
        yield
    finally:
        ward.stopping = True
        await task


async def wrong_terminals(broker: PrivateBroker, topics: Topics, stays: Stays) -> list[str]:
    """Terminals whose retained context is not the database's occupant of their bed, or whose
    config is missing: what a brand-new subscriber (a terminal booting) would get."""
    reader, password = list(broker.credentials.services.items())[1]  # another instance's
    seen = await retained(
        "127.0.0.1", broker.port, f"{topics.root}/terminal/+/+",
        username=reader, password=password, settle=0.6,
    )  # fmt: skip
    occupant = {s.bed.label: s for s in await stays.active_stays() if s.bed is not None}
    wrong = []
    for i in range(BEDS):
        tid, label = f"TK{i}", bed_label(i)
        config = seen.get(topics.config(tid))
        if config is None or parse_config(config).bed_label != label:
            wrong.append(f"{tid}: config")
        context = parse_context(seen.get(topics.context(tid), b""))
        stay = occupant.get(label)
        if stay is None and context is not None:
            wrong.append(f"{tid}: shows {context.greeting_name} in an empty bed")
        elif stay is not None and (
            context is None or context.greeting_name != stay.patient.given_name
        ):
            shown = context.greeting_name if context else "nothing"
            wrong.append(f"{tid}: shows {shown}, not {stay.patient.given_name}")
    return wrong


@pytest.mark.parametrize("db", ["postgres"], indirect=True)
async def test_broker_killed_during_admissions_transfers_discharges(
    db: Database,
    broker_factory: Callable[..., PrivateBroker],
    tmp_path: Path,
) -> None:
    beds = [(bed_label(i), f"{i:03d}", f"{6000 + i}", f"TK{i}") for i in range(BEDS)]
    await seed_ward(db, "K1", beds, dids=[f"0399{n:06d}" for n in range(600)])
    broker = broker_factory(
        [f"TK{i}" for i in range(BEDS)], persistence=True, extra="autosave_interval 1\n"
    )
    await broker.wait_ready()
    creds = broker.credentials
    topics = Topics()  # the real root: this broker is ours alone
    bus = EventBus()
    stays = Stays(db, bus, AuditLog())
    settings = Settings(
        data_dir=tmp_path,
        database_url="sqlite+aiosqlite:///unused.db",
        mqtt_url=f"mqtt://{creds.service_user}:{creds.service_password}@127.0.0.1:{broker.port}",  # type: ignore[arg-type]
    )
    options = BedsideOptions(reconnect_min_seconds=0.05, reconnect_max_seconds=0.3)
    edge = BedsideEdge(settings, options, db=db, bus=bus, stays=stays)
    ward = Ward(stays, seed=20)
    await bus.start()
    await edge.start()
    try:
        await wait_until(lambda: edge.synced, timeout=10)
        wrong_by_round: dict[int, list[str]] = {}
        for round_no in range(ROUNDS):
            async with churning(ward):
                await asyncio.sleep(ward.random.uniform(0.05, 1.2))  # past an autosave or not
                before = edge.link.connections
                broker.kill()
                await asyncio.sleep(ward.random.uniform(0.0, 0.3))  # changes while it is down
                broker.start()
                await broker.wait_ready()
                await asyncio.sleep(ward.random.uniform(0.0, 0.4))  # changes during the resync
            await bus.drain()
            resynced = lambda before=before: edge.link.connections > before and edge.synced  # noqa: E731
            await wait_until(resynced, timeout=20)
            await bus.drain()
            wrong = await wrong_terminals(broker, topics, stays)
            if wrong:
                wrong_by_round[round_no] = wrong

        assert ward.operations >= ROUNDS * 10  # the ward was busy all along
        assert edge.link.connections >= ROUNDS + 1
        assert wrong_by_round == {}
    finally:
        await edge.stop()
        await bus.stop()


@pytest.mark.parametrize("db", ["postgres"], indirect=True)
async def test_two_instances_never_leave_an_older_snapshot(
    db: Database, shared_broker: tuple[str, int], topics: Topics, tmp_path: Path
) -> None:
    """Instance A applies the ward's changes (its bus has the events); instance B rebuilds the
    retained state again and again meanwhile (as after its own reconnections). B's snapshots
    are older than A's changes more often than not; read, publish, verify means none of them
    stays on the broker."""
    beds = [(bed_label(i), f"{i:03d}", f"{6000 + i}", f"TK{i}") for i in range(BEDS)]
    await seed_ward(db, "K1", beds, dids=[f"0399{n:06d}" for n in range(600)])
    host, port = shared_broker
    bus_a, bus_b = EventBus(), EventBus()
    stays = Stays(db, bus_a, AuditLog())

    def instance(name: str, bus: EventBus, window: int) -> BedsideEdge:
        settings = Settings(
            data_dir=tmp_path, database_url="sqlite+aiosqlite:///unused.db",
            mqtt_url=f"mqtt://{host}:{port}",  # type: ignore[arg-type]
            mqtt_client_id=f"{name}-{topics.root}",
        )  # fmt: skip
        knobs = BedsideOptions(topic_root=topics.root, mqtt_window=window)
        return BedsideEdge(settings, knobs, db=db, bus=bus, stays=Stays(db, bus, AuditLog()))

    # B publishes one message at a time: its snapshot ages while it publishes.
    edge_a, edge_b = instance("svc-a", bus_a, 256), instance("svc-b", bus_b, 1)
    ward = Ward(stays, seed=7)
    await bus_a.start()
    await edge_a.start()
    await edge_b.start()
    try:
        await wait_until(lambda: edge_a.synced and edge_b.synced, timeout=10)
        for _ in range(6):
            async with churning(ward):
                for _ in range(3):
                    await edge_b.context.resync()
            await bus_a.drain()
            seen = await retained(host, port, f"{topics.root}/terminal/+/+", settle=0.6)
            occupant = {s.bed.label: s for s in await stays.active_stays() if s.bed is not None}
            for i in range(BEDS):
                context = parse_context(seen.get(topics.context(f"TK{i}"), b""))
                stay = occupant.get(bed_label(i))
                shown = context.greeting_name if context else None
                assert shown == (stay.patient.given_name if stay else None), f"TK{i}"
        assert ward.operations >= 30
    finally:
        await edge_b.stop()
        await edge_a.stop()
        await bus_a.stop()


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
async def test_what_the_broker_kept_for_a_terminal_gone_from_the_inventory_is_erased(
    db: Database, shared_broker: tuple[str, int], topics: Topics, tmp_path: Path
) -> None:
    await seed_ward(db, "K2", [("K2-001-A", "001", "6101", "TK-STAYS")])
    host, port = shared_broker
    async with aiomqtt.Client(host, port) as old_service:  # left by an earlier inventory
        await old_service.publish(topics.config("TK-GONE"), b'{"v":1}', qos=1, retain=True)
        await old_service.publish(topics.context("TK-GONE"), b'{"v":1,"greeting_name":"Kim"}',
                                  qos=1, retain=True)  # fmt: skip
    settings = Settings(
        data_dir=tmp_path, database_url="sqlite+aiosqlite:///unused.db",
        mqtt_url=f"mqtt://{host}:{port}",  # type: ignore[arg-type]
        mqtt_client_id=f"svc-{topics.root}",
    )  # fmt: skip
    bus = EventBus()
    edge = BedsideEdge(settings, BedsideOptions(topic_root=topics.root), db=db, bus=bus,
                       stays=Stays(db, bus, AuditLog()))  # fmt: skip
    await edge.start()
    try:
        await wait_until(lambda: edge.synced, timeout=15)
        seen = await retained(host, port, f"{topics.root}/#")
        assert set(seen) == {topics.config("TK-STAYS")}  # TK-STAYS: empty bed, no context
        assert edge.link.health()["state"] == "up"
    finally:
        await edge.stop()
