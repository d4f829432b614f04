"""Writes a :class:`CallRecord` when a call ends (a bus subscriber on ``CallEnded``).

Wire it with ``bus.subscribe(CallEnded, CallRecordWriter(sessionmaker),
name="telephony.call_records")``. The bed is the first phone of the call that is a bed of
the inventory (``beds.extension``), or the one ``is_bed`` accepts when given; with a
database, ``stay_id`` is the stay active on that bed when the call ended (``stays``: status
``active``, ``bed_id`` of the bed, started before the call ended). A record is written once
per call id: a second ``CallEnded`` for the same call (possible across a resync) is ignored.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import structlog
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from telephony.calls.models import CallRecord
from wardline.db.models import Bed, Stay
from wardline.domain.call_events import CallEnded

log = structlog.get_logger(__name__)

Store = Callable[[CallRecord], Awaitable[None]]


def record_of(event: CallEnded, is_bed: Callable[[str], bool] | None = None) -> CallRecord:
    bed = None
    if is_bed is not None:
        bed = next((ext for ext in event.extensions if is_bed(ext)), None)
    return CallRecord(
        call_id=event.call_id,
        caller_number=event.caller_number,
        called_extension=event.called_extension,
        extensions=",".join(event.extensions),
        bed_extension=bed,
        started_at=event.started_at,
        answered_at=event.answered_at,
        ended_at=event.ended_at,
        disposition=event.disposition,
        transferred=event.transferred,
    )


UnitOfWork = Callable[[], AbstractAsyncContextManager[AsyncSession]]
"""A transaction that commits when its block ends, e.g. ``Database.session``."""


class CallRecordWriter:
    """Give exactly one of: ``unit_of_work`` (``Database.session``: keeps the core's SQLite
    writer lock), ``sessions`` (an ``async_sessionmaker``), or ``store`` (a callable)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession] | None = None,
        *,
        unit_of_work: UnitOfWork | None = None,
        store: Store | None = None,
        is_bed: Callable[[str], bool] | None = None,
    ) -> None:
        given = [x for x in (sessions, unit_of_work, store) if x is not None]
        if len(given) != 1:
            raise ValueError("give one of: a sessionmaker, a unit of work, a store callable")
        if sessions is not None:
            unit_of_work = _begin(sessions)
        self._unit_of_work = unit_of_work
        self._store = store
        self._is_bed = is_bed
        self.written = 0
        self.duplicates = 0

    async def __call__(self, event: CallEnded) -> None:
        record = record_of(event, self._is_bed)
        if self._store is not None:
            await self._store(record)
            self.written += 1
            return
        assert self._unit_of_work is not None
        try:
            async with self._unit_of_work() as session:
                if self._is_bed is None and event.extensions:
                    beds = set(
                        await session.scalars(
                            select(Bed.extension).where(Bed.extension.in_(event.extensions))
                        )
                    )
                    record.bed_extension = next(
                        (ext for ext in event.extensions if ext in beds), None
                    )
                if record.bed_extension is not None:
                    record.stay_id = await stay_on_bed(session, record.bed_extension, event)
                session.add(record)
        except IntegrityError:
            self.duplicates += 1
            log.info("call_record.duplicate", call_id=event.call_id)
            return
        self.written += 1
        log.info("call_record.written", call_id=event.call_id, disposition=event.disposition)


async def stay_on_bed(session: AsyncSession, extension: str, event: CallEnded) -> int | None:
    """The id of the stay active on the bed of ``extension`` during the call, if any."""
    query = (
        select(Stay.id)
        .join(Bed, Stay.bed_id == Bed.id)
        .where(
            Bed.extension == extension,
            Stay.status == "active",
            Stay.started_at <= event.ended_at,
        )
        .order_by(Stay.started_at.desc())
        .limit(1)
    )
    return (await session.scalars(query)).first()


def _begin(sessions: async_sessionmaker[AsyncSession]) -> UnitOfWork:
    @asynccontextmanager
    async def unit() -> AsyncIterator[AsyncSession]:
        async with sessions() as session, session.begin():
            yield session

    return unit
