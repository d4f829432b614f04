"""Leases between instances on one real PostgreSQL: acquisition, expiry and takeover by the
database's clock, and the fence that refuses an instance whose lease was taken over (paused,
cut off) even while it still believes it holds it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from sqlalchemy import text

from tests.services import fresh_postgres_database, need_postgres, wait_until
from wardline.cluster.component import LeaseCollector
from wardline.cluster.leases import DUTIES, OUTBOX, LeaseLost, Leases
from wardline.db.engine import Database
from wardline.errors import StorageError

TTL, RENEW = 1.0, 0.25


@pytest.fixture
async def pg_url(migrated_templates: dict[str, str]) -> AsyncIterator[str]:
    need_postgres()
    async with fresh_postgres_database(template=migrated_templates["postgres"]) as url:
        await _scratch(url)
        yield url


async def _scratch(url: str) -> None:
    db = Database(url)
    async with db.session() as s:
        await s.execute(text("CREATE TABLE scratch (id serial PRIMARY KEY, by text NOT NULL)"))
    await db.dispose()


@pytest.fixture
async def pair(pg_url: str) -> AsyncIterator[tuple[Leases, Leases]]:
    """Two instances, ``a`` started first (it takes every duty), then ``b``."""
    a = Leases(Database(pg_url), "a", ttl=TTL, renew=RENEW)
    b = Leases(Database(pg_url), "b", ttl=TTL, renew=RENEW)
    await a.start()
    await b.start()
    yield a, b
    for leases in (b, a):
        await leases.stop()
        await leases.db.dispose()


def pause(leases: Leases) -> None:
    """What a frozen instance (GC stall, SIGSTOP) or one cut off from PostgreSQL looks like
    to the others: it renews nothing, and keeps whatever belief it had."""
    task = leases._task
    assert task is not None
    task.cancel()


async def written(db: Database) -> list[str]:
    async with db.sessions() as s:
        return list(await s.scalars(text("SELECT by FROM scratch ORDER BY id")))


async def guarded_write(leases: Leases, by: str) -> None:
    """A write under the outbox lease: the fence in the same transaction."""
    async with leases.db.session() as s:
        await s.execute(text("INSERT INTO scratch (by) VALUES (:by)"), {"by": by})
        await leases.duty(OUTBOX).fence(s)


async def test_one_holder_per_duty_and_readiness_names_it(pg_url: str) -> None:
    ttl = 3.0  # renewed in time even on a loaded machine
    a = Leases(Database(pg_url), "a", ttl=ttl, renew=ttl / 6)
    b = Leases(Database(pg_url), "b", ttl=ttl, renew=ttl / 6)
    await a.start()
    await b.start()
    try:
        assert all(a.duty(d).held for d in DUTIES)
        assert not any(b.duty(d).held for d in DUTIES)
        report = await b.readiness()
        assert report["instance"] == "b" and report["held"] == []
        holders = {duty: h["holder"] for duty, h in report["holders"].items()}
        assert holders == dict.fromkeys(DUTIES, "a")
        await asyncio.sleep(ttl * 1.5)  # renewed meanwhile: still a's, nothing taken over
        await b.tick()
        assert all(a.duty(d).held for d in DUTIES) and not any(b.duty(d).held for d in DUTIES)
        assert all(b.duty(d).takeovers == 0 for d in DUTIES)
    finally:
        for leases in (b, a):
            await leases.stop()
            await leases.db.dispose()


async def test_takeover_after_expiry_with_a_new_token(pair: tuple[Leases, Leases]) -> None:
    a, b = pair
    before = a.duty(OUTBOX).token
    assert before is not None
    pause(a)
    await wait_until(lambda: all(b.duty(d).held for d in DUTIES), timeout=10)
    assert b.duty(OUTBOX).token == before + 1
    assert all(b.duty(d).takeovers == 1 for d in DUTIES)
    holders = await a.holders()
    assert {h["holder"] for h in holders} == {"b"}
    registry = CollectorRegistry()
    registry.register(LeaseCollector(b))
    metrics = generate_latest(registry).decode()
    assert 'wardline_lease_takeovers_total{duty="outbox"} 1.0' in metrics
    assert 'wardline_lease_held{duty="nurse_call_escalation"} 1.0' in metrics


async def test_a_paused_holder_cannot_commit_after_a_takeover(
    pair: tuple[Leases, Leases],
) -> None:
    a, b = pair
    await guarded_write(a, "a-while-holding")
    pause(a)
    stale = a.duty(OUTBOX)
    believed = stale.token
    await wait_until(lambda: b.duty(OUTBOX).held, timeout=10)
    stale.token, stale.valid_until = believed, float("inf")  # it still believes
    assert stale.held
    with pytest.raises(LeaseLost) as refused:
        await guarded_write(a, "a-stale")
    assert refused.value.error_id == "cluster.lease_lost"
    await guarded_write(b, "b-new-holder")
    assert await written(a.db) == ["a-while-holding", "b-new-holder"]


async def test_an_expired_lease_fences_even_before_anyone_takes_it(
    pair: tuple[Leases, Leases],
) -> None:
    a, b = pair
    await b.stop()  # nobody to take over: the lease just runs out
    pause(a)
    lease = a.duty(OUTBOX)
    believed = lease.token
    await asyncio.sleep(TTL * 1.5)
    lease.token, lease.valid_until = believed, float("inf")
    with pytest.raises(LeaseLost):
        await guarded_write(a, "a-expired")
    assert await written(a.db) == []


async def test_a_guarded_write_in_flight_holds_off_the_taker(pg_url: str) -> None:
    """The fence share-locks the lease row: while the holder's guarded transaction is open,
    the taker cannot take the row (even once expired); its update comes after the commit,
    and the write committed under the old token is the last one under it."""
    ttl = 2.0  # room for the steps below on a loaded machine
    a = Leases(Database(pg_url), "a", ttl=ttl, renew=ttl / 4)
    b = Leases(Database(pg_url), "b", ttl=ttl, renew=ttl / 4)
    await a.start()
    await b.start()
    try:
        pause(a)
        await a.tick()  # renewed once more: it runs out ttl from now
        await asyncio.sleep(ttl * 0.6)
        async with a.db.session() as s:
            await a.duty(OUTBOX).fence(s)
            await asyncio.sleep(ttl * 0.55)  # expired now (idle well under the cut-off)
            await b.tick()
            assert not b.duty(OUTBOX).held
            await s.execute(text("INSERT INTO scratch (by) VALUES ('a-in-flight')"))
        await b.tick()
        assert b.duty(OUTBOX).held
        assert await written(a.db) == ["a-in-flight"]
    finally:
        for leases in (b, a):
            await leases.stop()
            await leases.db.dispose()


async def test_a_holder_frozen_inside_a_guard_is_cut_off_by_postgres(
    pair: tuple[Leases, Leases],
) -> None:
    """A holder that stalls inside a guarded transaction cannot keep the row locked: the
    server ends its idle transaction after the TTL, the taker goes on, the write is lost."""
    a, b = pair
    pause(a)
    with pytest.raises(StorageError) as cut:
        async with a.db.session() as s:
            await a.duty(OUTBOX).fence(s)
            await s.execute(text("INSERT INTO scratch (by) VALUES ('a-frozen')"))
            await wait_until(_took(b), timeout=10, interval=0.1)
    assert cut.value.error_id == "db.unavailable"
    assert b.duty(OUTBOX).held
    assert await written(b.db) == []


def _took(b: Leases) -> object:
    async def check() -> bool:
        await b.tick()
        return b.duty(OUTBOX).held

    return check


async def test_a_stopped_instance_hands_its_leases_over_at_once(
    pair: tuple[Leases, Leases],
) -> None:
    a, b = pair
    await a.stop()
    assert not any(a.duty(d).held for d in DUTIES)
    await b.tick()  # no waiting for the TTL: released leases are expired
    assert all(b.duty(d).held for d in DUTIES)


async def test_sqlite_is_one_instance_holding_every_duty(tmp_path: object) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path}/one.db")
    leases = Leases(db, "solo", ttl=TTL, renew=RENEW)
    acquired: list[str] = []
    leases.duty(OUTBOX).when_acquired(lambda: acquired.append(OUTBOX))
    await leases.start()
    await asyncio.sleep(0)
    assert all(leases.duty(d).held for d in DUTIES) and acquired == [OUTBOX]
    async with db.session() as s:
        await leases.duty(OUTBOX).fence(s)  # no table needed: nobody else to fence out
    await leases.stop()
    await db.dispose()
