"""The pool of direct inward dialling numbers (DIDs) given to stays.

A DID is free, assigned to one active stay, or in quarantine after its stay ended, so that a
caller who still has the number of a discharged patient never reaches the next one.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from wardline.db.models import Did
from wardline.domain.errors import no_did_available

DIDS = cast(Table, Did.__table__)

# The lowest available number: free, or quarantined and the quarantine over. Rows another
# transaction is taking are skipped (PostgreSQL; SQLite has one writer).
_AVAILABLE = (
    select(DIDS.c.number)
    .where(
        or_(
            DIDS.c.state == "free",
            and_(DIDS.c.state == "quarantine", DIDS.c.quarantine_until <= bindparam("now")),
        )
    )
    .order_by(DIDS.c.number)
    .limit(1)
    .with_for_update(skip_locked=True)
    .scalar_subquery()
)
TAKE = (
    update(DIDS)
    .where(DIDS.c.number == _AVAILABLE)
    .values(
        state="assigned", stay_id=bindparam("p_stay_id"), released_at=None, quarantine_until=None
    )
    .returning(DIDS.c.number)
)
RELEASE = (
    update(DIDS)
    .where(DIDS.c.number == bindparam("p_number"))
    .values(
        state="quarantine",
        released_at=bindparam("p_released_at"),
        quarantine_until=bindparam("p_quarantine_until"),
    )
)


async def assign(session: AsyncSession, stay_id: int, now: datetime) -> str:
    """Give the lowest available number to ``stay_id``; quarantined numbers only once expired."""
    number = (await session.execute(TAKE, {"p_stay_id": stay_id, "now": now})).scalar()
    if number is None:
        raise no_did_available()
    return str(number)


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
    await session.execute(RELEASE, release_params(number, now, now + quarantine))


def release_params(number: str | None, now: datetime, until: datetime) -> dict[str, Any]:
    return {"p_number": number, "p_released_at": now, "p_quarantine_until": until}


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
