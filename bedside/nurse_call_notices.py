"""The terminals' nurse-call notices, queued: a caller (a web request, the gateway) never waits
for the broker, and notices leave in the order of the calls' changes. Best effort: a notice
that cannot be sent is logged, the call stays as stored."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Protocol

import structlog

from bedside.beds import BedPlace, Places
from bedside.contract import NurseCallNotice, NurseCallState
from bedside.topics import Topics
from wardline.domain.nurse_call_port import NurseCallView

log = structlog.get_logger(__name__)


class NoticePublisher(Protocol):
    async def publish_many(self, messages: Iterable[tuple[str, bytes, bool]]) -> None: ...


class NoticeOutbox:
    def __init__(self, *, link: NoticePublisher, topics: Topics, places: Places) -> None:
        self._link = link
        self._topics = topics
        self._places = places
        self._queue: asyncio.Queue[tuple[NurseCallView, NurseCallState, list[str]]] = (
            asyncio.Queue()
        )
        self._sender: asyncio.Task[None] | None = None

    def notify(self, call: NurseCallView, state: NurseCallState, wards: list[str]) -> None:
        """Queue the notice of ``call`` for the terminals of ``wards``."""
        self._queue.put_nowait((call, state, wards))
        if self._sender is None or self._sender.done():
            self._sender = asyncio.create_task(self._deliver(), name="nurse-call:notices")

    async def sent(self) -> None:
        """Wait until every queued notice was handed to the broker (tests, shutdown)."""
        await self._queue.join()

    async def close(self) -> None:
        sender, self._sender = self._sender, None
        if sender is not None:
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)

    async def _deliver(self) -> None:
        while True:
            call, state, wards = await self._queue.get()
            try:
                await self._send(call, state, wards)
            except Exception:
                # The call is stored and its domain event published: the terminals' notice
                # is best effort and must not undo it.
                log.exception("nurse_call.notify_failed", call=call.call_id)
            finally:
                self._queue.task_done()

    async def _send(self, call: NurseCallView, state: NurseCallState, wards: list[str]) -> None:
        notice = NurseCallNotice(
            call_id=call.call_id, bed_label=call.bed_label, state=state, level=call.level
        ).to_bytes()
        places: list[BedPlace] = []
        for ward in dict.fromkeys(wards):
            places += await self._places.of_ward(ward)
        targets = sorted({p.terminal_id for p in places if p.terminal_id is not None})
        await self._link.publish_many([(self._topics.notify(t), notice, False) for t in targets])
