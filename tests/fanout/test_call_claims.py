"""The switchboard's call claims in the database: on both engines, one holder per call; over
two instances (two AMI links to one PBX simulator, one PostgreSQL), two operators acting on
one call at once from two instances: one acts, the other is refused, nothing sent for them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from telephony.calls.session import PbxSession
from telephony.errors import CallConflict
from telephony.simulator.server import PbxSimulator
from tests.services import fresh_postgres_database, need_postgres, wait_until
from tests.telephony.conftest import make_link
from wardline.db.engine import Database
from wardline.domain.call_events import CallTransferred
from wardline.domain.events import DomainEvent
from wardline.fanout.claims import CallClaims


async def test_one_holder_per_call_released_and_ended(db: Database) -> None:
    claims = CallClaims(db)
    assert await claims.claim("c1", "9000") == "9000"
    assert await claims.claim("c1", "9000") == "9000"  # the holder again: still theirs
    assert await claims.claim("c1", "2900") == "9000"  # another: refused, told who
    await claims.release("c1", "2900")  # not theirs: nothing
    assert await claims.holder("c1") == "9000"
    await claims.release("c1", "9000")
    assert await claims.claim("c1", "2900") == "2900"
    await claims.ended("c1")
    assert await claims.holder("c1") is None
    winners = await asyncio.gather(*(claims.claim("c2", f"90{n:02d}") for n in range(10)))
    assert len(set(winners)) == 1 and claims.refused == 1 + 9


@pytest.fixture
async def two_instances(
    migrated_templates: dict[str, str],
) -> AsyncIterator[tuple[PbxSimulator, PbxSession, PbxSession, list[DomainEvent]]]:
    need_postgres()
    async with fresh_postgres_database(template=migrated_templates["postgres"]) as url:
        sim = await PbxSimulator().start()
        for bed in ("2001", "2002"):
            sim.astdb[f"bed/{bed}/active"] = "1"
        events: list[DomainEvent] = []
        databases = [Database(url), Database(url)]
        sessions = [PbxSession(make_link(sim.port), events.append) for _ in databases]
        for session, database in zip(sessions, databases, strict=True):
            session.actions.share_claims(CallClaims(database))
            await session.start()
            await session.link.wait_synced(5)
        try:
            yield sim, sessions[0], sessions[1], events
        finally:
            for session in sessions:
                await session.stop()
            await sim.stop()
            for database in databases:
                await database.dispose()


async def test_two_operators_on_two_instances_one_call(
    two_instances: tuple[PbxSimulator, PbxSession, PbxSession, list[DomainEvent]],
) -> None:
    sim, a, b, events = two_instances
    call_id = sim.external_call(to="8000", caller="0612345678")
    await wait_until(
        lambda: all(
            call_id in s.state.calls and s.state.calls[call_id].queue is not None for s in (a, b)
        )
    )
    results = await asyncio.gather(
        a.actions.transfer_blind(call_id, "2001", operator="9000"),
        b.actions.transfer_blind(call_id, "2002", operator="2900"),
        return_exceptions=True,
    )
    assert sum(r is None for r in results) == 1, results
    refused = [r for r in results if isinstance(r, CallConflict)]
    assert len(refused) == 1 and refused[0].error_id == "pbx.call_conflict"
    winner, target = ("9000", "2001") if results[0] is None else ("2900", "2002")
    assert refused[0].details["holder"] == winner
    transfers = [e for e in events if isinstance(e, CallTransferred)]
    assert [(t.by_extension, t.to_extension) for t in transfers] == [(winner, target)]
    claims = a.actions.claims
    assert isinstance(claims, CallClaims)
    assert await claims.holder(call_id) == winner
    # the winner, moved to the other instance (a load balancer), still holds the call there
    other = b if winner == "9000" else a
    await other.actions.hangup(call_id, operator=winner)
    await wait_until(lambda: sim.calls() == {})
