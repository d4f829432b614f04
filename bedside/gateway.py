"""The service's side of the terminal contract: every message received from a terminal is
parsed at the border and turned into a domain action. A bad topic or payload is refused,
counted and logged without its content, the terminal (when known) gets an error notice, and
nothing else changes; messages from unknown terminals change nothing."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any, Protocol

import structlog

from bedside.contract import (
    BadgeTap,
    ErrorNotice,
    MenuAction,
    NurseCallPressed,
    parse_event,
    parse_status,
)
from bedside.errors import BedsideError, PayloadInvalid
from bedside.nurse_call import NurseCalls
from bedside.presence import TerminalRegistry
from bedside.topics import Topics

log = structlog.get_logger(__name__)


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
    ) -> None:
        self._topics = topics
        self._registry = registry
        self._calls = nurse_calls
        self._link = link
        self.refused: Counter[str] = Counter()
        self.unknown_terminal = 0
        self.handled = 0

    def subscriptions(self) -> list[str]:
        return [self._topics.all_from_terminals("status"), self._topics.all_from_terminals("event")]

    def stats(self) -> dict[str, Any]:
        return {
            "handled": self.handled,
            "refused": dict(self.refused),
            "unknown_terminal": self.unknown_terminal,
        }

    async def on_message(self, topic: str, payload: bytes, retained: bool) -> None:
        try:
            ref = self._topics.parse(topic)
        except BedsideError as exc:
            self.refused[exc.error_id] += 1
            log.warning("terminal.topic_refused", topic=topic[:200], error=exc.error_id)
            return
        tid = ref.terminal_id
        if ref.channel == "status":
            if not payload:  # a retained status being erased
                return
            try:
                status = parse_status(payload)
            except PayloadInvalid as exc:
                await self._refuse(tid, topic, exc)
                return
            if not await self._registry.record_status(tid, status, retained=retained):
                self.unknown_terminal += 1
                return
        elif ref.channel == "event":
            try:
                event = parse_event(payload)
            except PayloadInvalid as exc:
                await self._refuse(tid, topic, exc)
                return
            if not await self._registry.known(tid):
                self.unknown_terminal += 1
                log.warning("terminal.unknown", terminal=tid)
                return
            await self._event(tid, event)
            await self._registry.seen(tid)
        else:
            return
        self.handled += 1

    async def _event(self, tid: str, event: NurseCallPressed | BadgeTap | MenuAction) -> None:
        match event:
            case NurseCallPressed():
                await self._calls.raise_from_terminal(tid, event)
            case BadgeTap(badge_id=badge_id):
                await self._calls.clear_from_terminal(tid, badge_id)
            case MenuAction(action=action):
                log.info("terminal.menu", terminal=tid, action=action)

    async def _refuse(self, tid: str, topic: str, exc: PayloadInvalid) -> None:
        self.refused[exc.error_id] += 1
        log.warning("terminal.payload_refused", topic=topic, error=exc.error_id)
        if not await self._registry.known(tid):
            self.unknown_terminal += 1
            return
        notice = ErrorNotice(error_id=exc.error_id, message=exc.message[:200])
        try:
            await self._link.publish_many([(self._topics.notify(tid), notice.to_bytes(), False)])
        except BedsideError:
            log.warning("terminal.error_notice_failed", terminal=tid)
