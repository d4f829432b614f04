"""Group commit of ADT messages: the messages waiting to be applied, taken together.

Each MLLP connection persists its own message, then hands it here. A worker takes every
message waiting (up to a limit) and applies them in one transaction: their stay changes, their
audit rows (appended together at the end, so the audit chain head is held only briefly) and
their settlements commit together, and their ACKs go out after that commit. A batch the domain
refuses in part (an AE), or that fails in any way, is rolled back whole and its messages are
applied again one by one, each in its own transaction, exactly as without batching. Messages
of one patient never share a batch: the processor applies them one after the other.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, Protocol, TypeVar

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from ehr_bridge import adt_inbox as inbox
from ehr_bridge.adt_message import Command
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


@dataclass(kw_only=True)
class _Waiting(Generic[T]):
    entry: inbox.InboxEntry
    command: Command
    done: asyncio.Future[T] = field(repr=False)


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
        workers: int = 2,
        max_batch: int = 32,
    ) -> None:
        self.db, self.stays, self.actor, self.clock = db, stays, actor, clock
        self._alone, self._applied = alone, applied
        self._workers_wanted, self.max_batch = max(1, workers), max(1, max_batch)
        self._queue: asyncio.Queue[_Waiting[T]] = asyncio.Queue()
        self._workers: set[asyncio.Task[None]] = set()
        self.batches = 0
        self.split = 0

    async def apply(self, entry: inbox.InboxEntry, command: Command) -> T:
        """Apply one persisted message with whatever else is waiting."""
        done: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Waiting(entry=entry, command=command, done=done))
        self._start_workers()
        return await done

    async def close(self) -> None:
        workers, self._workers = list(self._workers), set()
        for task in workers:
            task.cancel()
        for task in workers:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        while not self._queue.empty():
            self._queue.get_nowait().done.cancel()

    def _start_workers(self) -> None:
        while len(self._workers) < self._workers_wanted:
            task = asyncio.get_running_loop().create_task(self._work(), name="adt-batches")
            self._workers.add(task)
            task.add_done_callback(self._worker_done)

    def _worker_done(self, task: asyncio.Task[None]) -> None:
        self._workers.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("adt.batch_worker_failed", error=type(task.exception()).__name__)

    async def _work(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self.max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._run(batch)
            except asyncio.CancelledError:
                for waiting in batch:
                    waiting.done.cancel()
                raise

    async def _run(self, batch: list[_Waiting[T]]) -> None:
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
                    _resolve(waiting, self._applied(waiting.entry.id))
                return
        for waiting in batch:
            try:
                outcome = await self._alone(waiting.entry, waiting.command)
            except Exception as exc:
                if not waiting.done.done():
                    waiting.done.set_exception(exc)
            else:
                _resolve(waiting, outcome)

    async def _together(self, batch: list[_Waiting[T]]) -> list[DomainEvent]:
        events: list[DomainEvent] = []
        async with self.db.session() as s:
            with deferred_rows() as rows:
                for waiting in batch:
                    _view, produced = await self.stays.apply_in(s, waiting.command, self.actor)
                    events.extend(produced)
            await append_rows(s, rows)
            ids = [waiting.entry.id for waiting in batch]
            await inbox.settle_applied_in(s, ids, at=self.clock())
        return events


def _resolve(waiting: _Waiting[T], outcome: T) -> None:
    if not waiting.done.done():
        waiting.done.set_result(outcome)
