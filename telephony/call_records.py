"""Writes a :class:`CallRecord` when a call ends (a bus subscriber on ``CallEnded``).

Wire it with ``bus.subscribe(CallEnded, CallRecordWriter(sessionmaker),
name="telephony.call_records")``. The bed is the first phone of the call that is a bed of
the inventory (``beds.extension``), or the one ``is_bed`` accepts when given. A record is
written once per call id: a second ``CallEnded`` for the same call (possible across a
resync) is ignored.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import structlog
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from telephony.models import CallRecord
from wardline.db.models import Bed
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


class CallRecordWriter:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession] | None = None,
        *,
        store: Store | None = None,
        is_bed: Callable[[str], bool] | None = None,
    ) -> None:
        if (sessions is None) == (store is None):
            raise ValueError("give either a sessionmaker or a store callable")
        self._sessions = sessions
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
        assert self._sessions is not None
        try:
            async with self._sessions() as session, session.begin():
                if self._is_bed is None and event.extensions:
                    beds = set(
                        await session.scalars(
                            select(Bed.extension).where(Bed.extension.in_(event.extensions))
                        )
                    )
                    record.bed_extension = next(
                        (ext for ext in event.extensions if ext in beds), None
                    )
                session.add(record)
        except IntegrityError:
            self.duplicates += 1
            log.info("call_record.duplicate", call_id=event.call_id)
            return
        self.written += 1
        log.info("call_record.written", call_id=event.call_id, disposition=event.disposition)
