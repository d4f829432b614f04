"""Calls made while one is running, gathered into the next: one round trip for many callers.

``submit(item)`` waits for the result of ``handler([... item ...])``; while the handler runs,
new items wait and go together into the next call. One call runs at a time, in the order the
items came. When the handler fails, every caller of that call gets
its exception; a handler may also fail one caller alone by giving an exception as that
caller's result.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

import structlog

log = structlog.get_logger(__name__)
I = TypeVar("I")  # noqa: E741
O = TypeVar("O")  # noqa: E741


class Coalescing(Generic[I, O]):
    def __init__(
        self,
        handler: Callable[[list[I]], Awaitable[list[O | Exception]]],
        *,
        name: str,
        max_items: int = 64,
    ) -> None:
        self._handler, self.name, self.max_items = handler, name, max(1, max_items)
        self._queue: asyncio.Queue[tuple[I, asyncio.Future[O]]] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None

    async def submit(self, item: I) -> O:
        done: asyncio.Future[O] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((item, done))
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(self._work(), name=self.name)
            self._worker.add_done_callback(self._worker_done)
        return await done

    async def close(self) -> None:
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker
        while not self._queue.empty():
            self._queue.get_nowait()[1].cancel()

    def _worker_done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            error = type(task.exception()).__name__
            log.error("coalescing.worker_failed", name=self.name, error=error)

    async def _work(self) -> None:
        while True:
            waiting = [await self._queue.get()]
            while len(waiting) < self.max_items and not self._queue.empty():
                waiting.append(self._queue.get_nowait())
            try:
                results = await self._handler([item for item, _ in waiting])
            except asyncio.CancelledError:
                for _, done in waiting:
                    done.cancel()
                raise
            except Exception as exc:
                for _, done in waiting:
                    if not done.done():
                        done.set_exception(exc)
                continue
            for (_, done), result in zip(waiting, results, strict=True):
                if done.done():
                    continue
                if isinstance(result, Exception):
                    done.set_exception(result)
                else:
                    done.set_result(result)
