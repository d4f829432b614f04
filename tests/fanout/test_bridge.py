"""Two instances' buses joined through a real PostgreSQL (LISTEN/NOTIFY): what crosses, what
does not, what is too long for a notification, what is garbled, and a lost listener."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import asyncpg
import pytest
from sqlalchemy import func, select

from tests.services import PG_ADMIN_URL, fresh_postgres_database, need_postgres
from wardline.bus import EventBus
from wardline.db.engine import Database
from wardline.domain.call_events import CallRinging
from wardline.domain.events import BedRef, DomainEvent, StayAdmitted
from wardline.domain.fanout_events import ClusterResync
from wardline.domain.nurse_call_events import NurseCallRaised, NurseCallRinging
from wardline.fanout.bridge import APPLICATION_NAME, PeerEvents, asyncpg_dsn, connect_args
from wardline.fanout.models import StoredNotice

BED = BedRef(bed_id=1, label="C-101-A", extension="2101", ward_code="CARD", terminal_id="tv-1")


@dataclass
class Instance:
    db: Database
    bus: EventBus
    bridge: PeerEvents
    seen: list[DomainEvent] = field(default_factory=list)


async def _until(check: Callable[[], bool], within: float = 20.0) -> None:
    async with asyncio.timeout(within):
        while not check():  # noqa: ASYNC110 (a condition across processes, polled)
            await asyncio.sleep(0.02)


@pytest.fixture
async def pair(migrated_templates: dict[str, str]) -> AsyncIterator[tuple[Instance, Instance]]:
    need_postgres()
    async with fresh_postgres_database(template=migrated_templates["postgres"]) as url:
        instances = []
        for name in ("a", "b"):
            db, bus = Database(url), EventBus()
            bridge = PeerEvents(db, bus, origin=f"instance-{name}", backoff=(0.05, 0.5))
            inst = Instance(db, bus, bridge)

            async def record(event: DomainEvent, seen: list[DomainEvent] = inst.seen) -> None:
                seen.append(event)

            bus.subscribe(DomainEvent, record, name="test.recorder")
            await bus.start()
            await bridge.start()
            instances.append(inst)
        for inst in instances:
            await _until(lambda inst=inst: inst.bridge.state == "up")  # type: ignore[misc]
        try:
            yield instances[0], instances[1]
        finally:
            for inst in instances:
                await inst.bridge.stop()
                await inst.bus.stop()
                await inst.db.dispose()


def _admitted(stay_id: int) -> StayAdmitted:
    return StayAdmitted(stay_id=stay_id, visit_number=f"V-{stay_id}", patient_id=stay_id,
                        bed=BED, did=None)  # fmt: skip


async def test_a_stay_admitted_on_one_instance_reaches_the_other_marked_remote(
    pair: tuple[Instance, Instance],
) -> None:
    a, b = pair
    event = _admitted(1)
    a.bus.publish(event)
    await _until(lambda: any(isinstance(e, StayAdmitted) for e in b.seen))
    got = [e for e in b.seen if isinstance(e, StayAdmitted)]
    assert got == [event]
    assert got[0].origin == "instance-a" and got[0].remote
    # and back: B's own event reaches A; A never hears its own twice
    b.bus.publish(_admitted(2))
    await _until(lambda: sum(isinstance(e, StayAdmitted) for e in a.seen) == 2)
    mine, theirs = (e for e in a.seen if isinstance(e, StayAdmitted))
    assert (mine.stay_id, mine.remote) == (1, False)
    assert (theirs.stay_id, theirs.origin) == (2, "instance-b")
    await asyncio.sleep(0.3)  # nothing echoes back
    assert sum(isinstance(e, StayAdmitted) for e in a.seen) == 2
    assert sum(isinstance(e, StayAdmitted) for e in b.seen) == 2
    assert a.bridge.received == 1 and b.bridge.received == 1


async def test_order_is_kept_and_events_of_the_pbx_stay_local(
    pair: tuple[Instance, Instance],
) -> None:
    a, b = pair
    a.bus.publish(
        CallRinging(call_id="c1", caller_number="1", caller_name="", called_extension="2101",
                    ringing_extension="2101")
    )  # fmt: skip
    for n in range(50):
        a.bus.publish(_admitted(n))
    await _until(lambda: sum(isinstance(e, StayAdmitted) for e in b.seen) == 50)
    assert [e.stay_id for e in b.seen if isinstance(e, StayAdmitted)] == list(range(50))
    assert not any(isinstance(e, CallRinging) for e in b.seen)


async def test_an_event_too_long_for_a_notification_is_stored_and_named(
    pair: tuple[Instance, Instance],
) -> None:
    a, b = pair
    phones = tuple(f"{n:05d}" for n in range(2000))  # ~18 kB of JSON
    event = NurseCallRinging(call_id=5, bed_label="C-101-A", ward_code="CARD", phones=phones)
    a.bus.publish(event)
    await _until(lambda: any(isinstance(e, NurseCallRinging) for e in b.seen))
    got = next(e for e in b.seen if isinstance(e, NurseCallRinging))
    assert got == event and got.phones == phones and got.origin == "instance-a"
    await _until(lambda: a.bridge.stored == 1)  # counted once its statement returned
    async with a.db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(StoredNotice)) == 1


async def test_a_garbled_or_unknown_notification_is_dropped_and_counted(
    pair: tuple[Instance, Instance],
) -> None:
    a, b = pair
    conn = await asyncpg.connect(asyncpg_dsn(a.db.url))
    try:
        for junk in ("not json", '{"v":1,"o":"x","t":"CallRinging","e":{}}',
                     '{"v":1,"o":"x","r":999999}'):  # fmt: skip
            await conn.execute("SELECT pg_notify($1, $2)", a.bridge.channel, junk)
    finally:
        await conn.close()
    a.bus.publish(_admitted(7))
    await _until(lambda: any(isinstance(e, StayAdmitted) for e in b.seen))
    expected = {"fanout.not_json": 1, "fanout.unknown_event": 1, "fanout.ref_unknown": 1}
    assert dict(b.bridge.dropped) == expected
    assert dict(a.bridge.dropped) == expected
    assert [type(e) for e in b.seen] == [StayAdmitted]


async def test_a_lost_listener_reconnects_and_tells_to_resync(
    pair: tuple[Instance, Instance],
) -> None:
    a, b = pair
    admin = await asyncpg.connect(PG_ADMIN_URL)
    try:
        database = a.db.url.rsplit("/", 1)[1]
        killed = await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = $1 AND application_name = $2",
            database,
            APPLICATION_NAME,
        )
    finally:
        await admin.close()
    assert killed == 2  # both instances' listeners
    await _until(lambda: any(isinstance(e, ClusterResync) for e in b.seen))
    await _until(lambda: a.bridge.state == "up" and b.bridge.state == "up")
    assert a.bridge.connections == 2 and b.bridge.resyncs == 1
    a.bus.publish(
        NurseCallRaised(call_id=9, bed_label="C-101-A", ward_code="CARD",
                        nurse_station_extension="2900", source="button")
    )  # fmt: skip
    await _until(lambda: any(isinstance(e, NurseCallRaised) for e in b.seen))
    resync = next(e for e in b.seen if isinstance(e, ClusterResync))
    assert not resync.remote  # local to the instance: it never crosses
    assert not any(isinstance(e, ClusterResync) and e.remote for e in a.seen)


async def test_events_an_instance_could_not_send_make_the_others_resync(
    pair: tuple[Instance, Instance],
) -> None:
    a, b = pair
    good = a.bridge.database
    away = Database("postgresql+asyncpg://postgres@127.0.0.1:1/nowhere")  # refused at once
    a.bridge.database = away
    try:
        a.bus.publish(_admitted(1))
        await _until(lambda: a.bridge.send_failures == 1)
    finally:
        a.bridge.database = good  # its database is back
        await away.dispose()
    a.bus.publish(_admitted(2))
    await _until(lambda: any(isinstance(e, StayAdmitted) for e in b.seen))
    kinds = [(type(e).__name__, getattr(e, "reason", getattr(e, "stay_id", None))) for e in b.seen]
    assert kinds == [("ClusterResync", "peer_unsent"), ("StayAdmitted", 2)]
    await _until(lambda: a.bridge.sent == 1)  # counted once pg_notify returned
    assert b.bridge.resyncs == 1 and a.bridge.send_failures == 1


def test_the_listener_connects_as_sqlalchemy_does() -> None:
    db = Database("postgresql+asyncpg://u:p@db.example:5433/ward?ssl=require"
                  "&prepared_statement_cache_size=0")  # fmt: skip
    assert connect_args(db) == {"host": "db.example", "port": 5433, "user": "u",
                                "password": "p", "database": "ward", "ssl": "require"}  # fmt: skip
