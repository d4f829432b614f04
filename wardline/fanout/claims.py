"""The switchboard's call claims, held in the database so they hold across instances.

An operator's first action on a call claims it; another operator acting on it is refused
until the claim is released (their action failed, they left the call) or the call ends. Each
instance keeps its own AMI connection and so its own view of the calls, but the claims are
one table, unique on the call id: two operators on two instances acting on the same call at
the same moment, one ``INSERT ... ON CONFLICT DO NOTHING`` wins and the other reads its
holder. Works on SQLite too (one instance).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from wardline.db.base import utcnow
from wardline.db.engine import Database
from wardline.fanout.models import CallClaim

FORGOTTEN_AFTER = timedelta(hours=24)
"""A claim this old belongs to a call that ended while no instance saw it end: deleted."""


class CallClaims:
    def __init__(self, database: Database) -> None:
        self.database = database
        self.refused = 0

    async def claim(self, call_id: str, operator: str) -> str:
        """Claim ``call_id`` for ``operator`` unless another holds it; return the holder
        (``operator`` when the claim is theirs)."""
        now = utcnow()
        insert = sqlite_insert if self.database.is_sqlite else pg_insert
        statement = (
            insert(CallClaim)
            .values(call_id=call_id, operator=operator, claimed_at=now)
            .on_conflict_do_nothing(index_elements=[CallClaim.call_id])
        )
        async with self.database.session() as session:
            await session.execute(
                delete(CallClaim).where(CallClaim.claimed_at < now - FORGOTTEN_AFTER)
            )
            await session.execute(statement)
            holder = await session.scalar(
                select(CallClaim.operator).where(CallClaim.call_id == call_id)
            )
        if holder is None:  # released between the two statements: the caller tries again
            return await self.claim(call_id, operator)
        if holder != operator:
            self.refused += 1
        return str(holder)

    async def release(self, call_id: str, operator: str) -> None:
        """Release ``operator``'s claim (nothing when another holds the call)."""
        async with self.database.session() as session:
            await session.execute(
                delete(CallClaim).where(
                    CallClaim.call_id == call_id, CallClaim.operator == operator
                )
            )

    async def ended(self, call_id: str) -> None:
        """The call ended: whoever held it, the claim goes."""
        async with self.database.session() as session:
            await session.execute(delete(CallClaim).where(CallClaim.call_id == call_id))

    async def holder(self, call_id: str) -> str | None:
        async with self.database.session() as session:
            found = await session.scalar(
                select(CallClaim.operator).where(CallClaim.call_id == call_id)
            )
        return None if found is None else str(found)
