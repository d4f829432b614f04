"""The in-process event bus through which the edges meet.

``publish`` never blocks the producer: each subscriber has its own queue and worker task, so
events reach one subscriber in order, a slow subscriber delays only itself, and a failing
handler is logged and never stops the others. ``drain`` waits until every queue is empty.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import structlog

from wardline.domain.events import DomainEvent

log = structlog.get_logger(__name__)

E = TypeVar("E", bound=DomainEvent)
Handler = Callable[[Any], Awaitable[None]]


@dataclass
class _Subscriber:
    name: str
    types: tuple[type[DomainEvent], ...]
    handler: Handler
    queue: asyncio.Queue[DomainEvent] = field(default_factory=asyncio.Queue)
    task: asyncio.Task[None] | None = None
    failures: int = 0


class EventBus:
    def __init__(self) -> None:
        self._subscribers: list[_Subscriber] = []
        self._running = False
        self.published = 0

    def subscribe(
        self,
        types: type[E] | tuple[type[E], ...],
        handler: Callable[[E], Awaitable[None]],
        *,
        name: str,
    ) -> None:
        """Deliver events of ``types`` (and their subclasses) to ``handler``, in order."""
        kinds = types if isinstance(types, tuple) else (types,)
        sub = _Subscriber(name=name, types=kinds, handler=handler)
        self._subscribers.append(sub)
        if self._running:
            sub.task = asyncio.create_task(self._run(sub), name=f"bus:{name}")

    def publish(self, event: DomainEvent) -> None:
        self.published += 1
        for sub in self._subscribers:
            if isinstance(event, sub.types):
                sub.queue.put_nowait(event)

    def depth(self) -> int:
        return sum(sub.queue.qsize() for sub in self._subscribers)

    async def drain(self) -> None:
        """Wait until every subscriber has handled every event published so far."""
        for sub in list(self._subscribers):
            await sub.queue.join()

    async def start(self) -> None:
        self._running = True
        for sub in self._subscribers:
            if sub.task is None:
                sub.task = asyncio.create_task(self._run(sub), name=f"bus:{sub.name}")

    async def stop(self) -> None:
        self._running = False
        tasks = [sub.task for sub in self._subscribers if sub.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for sub in self._subscribers:
            sub.task = None

    async def _run(self, sub: _Subscriber) -> None:
        while True:
            event = await sub.queue.get()
            try:
                await sub.handler(event)
            except asyncio.CancelledError:
                sub.queue.task_done()
                raise
            except Exception:
                sub.failures += 1
                log.exception("bus.handler_failed", subscriber=sub.name, domain_event=event.name)
            sub.queue.task_done()
