"""Group commit of ADT messages: the messages waiting to be applied, taken together.

Each MLLP connection persists its own message, then hands it here. A worker takes every
message waiting (up to a limit) and applies them in one transaction: their stay changes, their
audit rows (appended together at the end, so the audit chain head is held only briefly) and
their settlements commit together, and their ACKs go out after that commit. A batch the domain
refuses in part (an AE), or that fails in any way, is rolled back whole and its messages are
applied again one by one, each in its own transaction, exactly as without batching. Messages
of one patient never share a batch: the processor applies them one after the other; batches
run one at a time, in the order their messages came. With several instances on one database,
a batch claims its messages and its patients' turn (``ehr_bridge/adt_claims.py``); when
another instance applied one of them, or holds an earlier message of one of the patients,
the batch goes one by one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, Protocol, TypeVar

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from ehr_bridge import adt_inbox as inbox
from ehr_bridge.adt_claims import OutOfTurn, claim
from ehr_bridge.adt_message import Command
from ehr_bridge.coalescing import Coalescing
from wardline.db.engine import Database
from wardline.domain.audit import append_rows, deferred_rows
from wardline.domain.commands import Actor
from wardline.domain.events import DomainEvent

log = structlog.get_logger(__name__)
T = TypeVar("T")


class StayCommands(Protocol):
    """What ADT processing needs of the domain (``wardline.domain.stays.Stays`` fits)."""

    async def apply(self, command: Command, actor: Actor) -> object: ...

    async def apply_in(
        self, session: AsyncSession, command: Command, actor: Actor
    ) -> tuple[object, list[DomainEvent]]: ...

    def publish(self, events: list[DomainEvent]) -> None: ...


@dataclass(frozen=True, kw_only=True)
class _Waiting:
    entry: inbox.InboxEntry
    command: Command


class AdtBatches(Generic[T]):
    """``alone(entry, command)`` applies one message in its own transaction and gives its
    outcome; ``applied(message_id)`` is the outcome of a message applied in a batch."""

    def __init__(
        self,
        db: Database,
        stays: StayCommands,
        *,
        actor: Actor,
        clock: Callable[[], datetime],
        alone: Callable[[inbox.InboxEntry, Command], Awaitable[T]],
        applied: Callable[[int], T],
        max_batch: int = 32,
    ) -> None:
        self.db, self.stays, self.actor, self.clock = db, stays, actor, clock
        self._alone, self._applied = alone, applied
        self._waiting: Coalescing[_Waiting, T] = Coalescing(
            self._run, name="adt-batches", max_items=max_batch
        )
        self.batches = 0
        self.split = 0

    async def apply(self, entry: inbox.InboxEntry, command: Command) -> T:
        """Apply one persisted message with whatever else is waiting."""
        return await self._waiting.submit(_Waiting(entry=entry, command=command))

    async def close(self) -> None:
        await self._waiting.close()

    async def _run(self, batch: list[_Waiting]) -> list[T | Exception]:
        if len(batch) > 1:
            try:
                events = await self._together(batch)
            except Exception as exc:
                self.split += 1
                log.info("adt.batch_split", size=len(batch), error=type(exc).__name__)
            else:
                self.batches += 1
                self.stays.publish(events)
                for waiting in batch:
                    log.info("adt.applied", message_id=waiting.entry.id)
                return [self._applied(waiting.entry.id) for waiting in batch]
        outcomes: list[T | Exception] = []
        for waiting in batch:
            try:
                outcomes.append(await self._alone(waiting.entry, waiting.command))
            except Exception as exc:
                outcomes.append(exc)
        return outcomes

    async def _together(self, batch: list[_Waiting]) -> list[DomainEvent]:
        events: list[DomainEvent] = []
        async with self.db.session() as s:
            keys = [(w.entry.id, w.entry.patient_key) for w in batch]
            if len(await claim(s, keys)) != len(batch):  # some applied elsewhere meanwhile
                raise OutOfTurn("adt.claimed_elsewhere", "a message was applied elsewhere")
            with deferred_rows() as rows:
                for waiting in batch:
                    _view, produced = await self.stays.apply_in(s, waiting.command, self.actor)
                    events.extend(produced)
            await append_rows(s, rows)
            ids = [waiting.entry.id for waiting in batch]
            await inbox.settle_applied_in(s, ids, at=self.clock())
        return events
