"""The pool of direct inward dialling numbers (DIDs) given to stays.

A DID is free, assigned to one active stay, or in quarantine after its stay ended, so that a
caller who still has the number of a discharged patient never reaches the next one.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from wardline.db.models import Did
from wardline.domain.errors import no_did_available


async def assign(session: AsyncSession, stay_id: int, now: datetime) -> str:
    """Give the lowest available number to ``stay_id``; quarantined numbers only once expired."""
    query = (
        select(Did)
        .where(
            or_(
                Did.state == "free",
                (Did.state == "quarantine") & (Did.quarantine_until <= now),
            )
        )
        .order_by(Did.number)
        .limit(1)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    did = (await session.scalars(query)).first()
    if did is None:
        raise no_did_available()
    did.state = "assigned"
    did.stay_id = stay_id
    did.released_at = None
    did.quarantine_until = None
    return did.number


async def reclaim(session: AsyncSession, number: str, stay_id: int) -> bool:
    """Give a quarantined number back to the stay that last held it (cancelled discharge)."""
    did = await session.get(Did, number)
    if did is None or did.state != "quarantine" or did.stay_id != stay_id:
        return False
    did.state = "assigned"
    did.released_at = None
    did.quarantine_until = None
    return True


async def release(
    session: AsyncSession, number: str | None, now: datetime, quarantine: timedelta
) -> None:
    """Put a number into quarantine; it stays linked to its last stay for a possible reclaim."""
    if number is None:
        return
    did = await session.get(Did, number)
    if did is None:
        return
    did.state = "quarantine"
    did.released_at = now
    did.quarantine_until = now + quarantine


async def state_of(session: AsyncSession, number: str) -> Did | None:
    return await session.get(Did, number)


def expand_range(first: str, last: str) -> list[str]:
    """All numbers from ``first`` to ``last`` inclusive, keeping leading zeros and width."""
    if len(first) != len(last) or not first.isdigit() or not last.isdigit():
        raise ValueError("a DID range needs two numbers of the same width, digits only")
    start, end = int(first), int(last)
    if end < start:
        raise ValueError("a DID range must not end before it starts")
    if end - start > 100_000:
        raise ValueError("a DID range holds at most 100,001 numbers")
    return [str(n).zfill(len(first)) for n in range(start, end + 1)]
