"""The service's side of the terminal contract: every message received from a terminal is
parsed at the border and turned into a domain action. A bad topic or payload is refused,
counted by reason and logged without its content (once per terminal per interval), the
terminal (when known) gets an error notice (as often), and nothing else changes; messages
from unknown terminals change nothing.

A noisy terminal only hurts itself. The intake (:meth:`TerminalGateway.on_message`) runs on
the link's reader and never waits: a rate limit per terminal before any parsing, size and
depth bounds while parsing, then one of two fair lanes with a bounded share per terminal.
Nurse calls and badge taps (which clear them) take the clinical lane, served by its own
worker; statuses and menu actions the ordinary one. Error notices go through a bounded queue
to their own sender; nothing is awaited inline.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Coroutine, Iterable
from typing import Any, Protocol

import structlog

from bedside.contract import (
    BadgeTap,
    ErrorNotice,
    MenuAction,
    NurseCallPressed,
    TerminalStatus,
    parse_event,
    parse_status,
)
from bedside.errors import BedsideError, PayloadInvalid
from bedside.intake import Clock, FairLane, IntakeLimits, RateLimiter, Refusals
from bedside.nurse_call import NurseCalls
from bedside.presence import TerminalRegistry
from bedside.topics import Topics

log = structlog.get_logger(__name__)

RATE_LIMITED = "mqtt.rate_limited"
QUEUE_FULL = "mqtt.queue_full"
NOTICE_QUEUE = 256
Clinical = NurseCallPressed | BadgeTap
Ordinary = tuple[TerminalStatus, bool] | MenuAction


class NoticeSender(Protocol):
    async def publish_many(self, messages: Iterable[tuple[str, bytes, bool]]) -> None: ...


class TerminalGateway:
    def __init__(
        self,
        *,
        topics: Topics,
        registry: TerminalRegistry,
        nurse_calls: NurseCalls,
        link: NoticeSender,
        limits: IntakeLimits | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        limits = limits or IntakeLimits()
        self._topics = topics
        self._registry = registry
        self._calls = nurse_calls
        self._link = link
        self._limiter = RateLimiter(
            limits.rate_per_second, limits.burst, tracked=limits.tracked_terminals, clock=clock
        )
        self._clinical: FairLane[Clinical] = FairLane(
            per_terminal=limits.clinical_per_terminal, total=limits.queue_total
        )
        self._ordinary: FairLane[Ordinary] = FairLane(
            per_terminal=limits.queue_per_terminal, total=limits.queue_total
        )
        self.refusals = Refusals(
            interval=limits.refusal_interval_seconds, tracked=limits.tracked_terminals,
            clock=clock,
        )  # fmt: skip
        self._unknown = Refusals(  # only to log each unknown terminal once per interval
            interval=limits.refusal_interval_seconds, tracked=limits.tracked_terminals,
            clock=clock,
        )  # fmt: skip
        self._notices: asyncio.Queue[tuple[str, ErrorNotice]] = asyncio.Queue(NOTICE_QUEUE)
        self._tasks: list[asyncio.Task[None]] = []
        self._pending = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self.unknown_terminal = 0
        self.handled = 0
        self.failures = 0
        self.notices_dropped = 0

    @property
    def refused(self) -> Counter[str]:
        """Refused messages by reason (the ``wardline_mqtt_refused_messages`` metric)."""
        return self.refusals.by_reason

    def subscriptions(self, shared_group: str = "") -> list[str]:
        """The terminals' status (every instance keeps their presence) and their events:
        through a shared subscription when ``shared_group`` is set, so each press, badge tap
        and menu action is handled by one instance of the service."""
        events = (
            self._topics.shared_from_terminals("event", shared_group)
            if shared_group
            else self._topics.all_from_terminals("event")
        )
        return [self._topics.all_from_terminals("status"), events]

    def stats(self) -> dict[str, Any]:
        return {
            "handled": self.handled,
            "refused": dict(self.refused),
            "unknown_terminal": self.unknown_terminal,
            "queued_clinical": len(self._clinical),
            "queued_ordinary": len(self._ordinary),
            "failures": self.failures,
            "notices_dropped": self.notices_dropped,
        }

    # --- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        if not self._tasks:
            self._tasks = [
                self._spawn(self._serve(self._clinical, self._clinical_item), "clinical"),
                self._spawn(self._serve(self._ordinary, self._ordinary_item), "ordinary"),
                self._spawn(self._send_notices(), "notices"),
            ]

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        return asyncio.create_task(coro, name=f"terminal-gateway:{name}")

    async def close(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def idle(self) -> None:
        """Wait until every message taken in so far has been handled (tests, benchmarks)."""
        await self._idle.wait()

    # --- intake: on the link's reader, never waits ----------------------------------------

    def on_message(self, topic: str, payload: bytes, retained: bool) -> None:
        try:
            ref = self._topics.parse(topic)
        except BedsideError as exc:
            self._refuse("", exc.error_id, exc.message)
            return
        tid = ref.terminal_id
        if ref.channel not in ("status", "event"):
            return
        if ref.channel == "status" and not payload:  # a retained status being erased
            return
        if not self._limiter.allow(tid):
            self._refuse(tid, RATE_LIMITED, "too many messages from this terminal")
            return
        try:
            if ref.channel == "status":
                queued = self._ordinary.put(tid, (parse_status(payload), retained))
            else:
                event = parse_event(payload)
                if isinstance(event, NurseCallPressed | BadgeTap):
                    queued = self._clinical.put(tid, event)
                else:
                    queued = self._ordinary.put(tid, event)
        except PayloadInvalid as exc:
            self._refuse(tid, exc.error_id, exc.message)
            return
        if not queued:
            self._refuse(tid, QUEUE_FULL, "too many messages waiting from this terminal")
            return
        self._pending += 1
        self._idle.clear()

    def _refuse(self, tid: str, reason: str, message: str) -> None:
        unsaid = self.refusals.record(tid, reason)
        if unsaid is None:
            return
        log.warning("terminal.message_refused", terminal=tid or None, error=reason,
                    unsaid_since_last=unsaid)  # fmt: skip
        if tid:
            try:
                self._notices.put_nowait((tid, ErrorNotice(error_id=reason, message=message[:200])))
            except asyncio.QueueFull:
                self.notices_dropped += 1

    # --- workers ------------------------------------------------------------------------

    async def _serve(self, lane: FairLane[Any], handle: Any) -> None:
        while True:
            tid, item = await lane.get()
            try:
                if await self._registry.known(tid):
                    await handle(tid, item)
                    self.handled += 1
                else:
                    self.unknown_terminal += 1
                    if self._unknown.record(tid, "unknown") is not None:
                        log.warning("terminal.unknown", terminal=tid)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.failures += 1
                log.error("terminal.message_failed", terminal=tid, error=repr(exc)[:200])
            finally:
                self._pending -= 1
                if self._pending == 0:
                    self._idle.set()

    async def _clinical_item(self, tid: str, event: Clinical) -> None:
        match event:
            case NurseCallPressed():
                await self._calls.raise_from_terminal(tid, event)
            case BadgeTap(badge_id=badge_id):
                await self._calls.clear_from_terminal(tid, badge_id)
        await self._registry.seen(tid)

    async def _ordinary_item(self, tid: str, item: Ordinary) -> None:
        if isinstance(item, MenuAction):
            log.info("terminal.menu", terminal=tid, action=item.action)
            await self._registry.seen(tid)
        else:
            status, retained = item
            await self._registry.record_status(tid, status, retained=retained)

    async def _send_notices(self) -> None:
        while True:
            tid, notice = await self._notices.get()
            try:
                if await self._registry.known(tid):
                    topic = self._topics.notify(tid)
                    await self._link.publish_many([(topic, notice.to_bytes(), False)])
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("terminal.error_notice_failed", terminal=tid, error=repr(exc)[:200])
