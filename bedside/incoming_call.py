"""An incoming call to a bed's phone is shown on the bed's terminal: a ``notify`` message when
the phone rings, and another when the call is answered or ends (the banner goes away)."""

from __future__ import annotations

from typing import Protocol

import structlog

from bedside.beds import BedPlace, Places
from bedside.contract import IncomingCallNotice
from bedside.topics import Topics
from wardline.bus import EventBus
from wardline.domain.call_events import CallAnswered, CallEnded, CallEvent, CallRinging

log = structlog.get_logger(__name__)


class NoticePublisher(Protocol):
    async def publish_many(self, messages: list[tuple[str, bytes, bool]]) -> None: ...


class IncomingCallBanner:
    def __init__(self, *, link: NoticePublisher, topics: Topics, places: Places) -> None:
        self._link, self._topics, self._places = link, topics, places
        self._ringing: dict[str, str] = {}  # call id -> terminal id
        self.sent = 0

    def subscribe(self, bus: EventBus) -> None:
        bus.subscribe(
            (CallRinging, CallAnswered, CallEnded), self.handle, name="bedside.incoming_call"
        )

    async def _place_of_extension(self, extension: str) -> BedPlace | None:
        return next((p for p in await self._places.load() if p.extension == extension), None)

    async def handle(self, event: CallEvent) -> None:
        if isinstance(event, CallRinging):
            place = await self._place_of_extension(event.ringing_extension)
            if place is None or place.terminal_id is None or event.call_id in self._ringing:
                return
            self._ringing[event.call_id] = place.terminal_id
            notice = IncomingCallNotice(
                call_ref=event.call_id,
                caller_number=event.caller_number or None,
                caller_name=event.caller_name or None,
            )
            await self._send(place.terminal_id, notice)
            return
        if not isinstance(event, CallAnswered | CallEnded):
            return
        terminal = self._ringing.pop(event.call_id, None)
        if terminal is not None:
            state = "answered" if isinstance(event, CallAnswered) else "ended"
            await self._send(terminal, IncomingCallNotice(call_ref=event.call_id, state=state))

    async def _send(self, terminal_id: str, notice: IncomingCallNotice) -> None:
        topic = self._topics.notify(terminal_id)
        await self._link.publish_many([(topic, notice.to_bytes(), False)])
        self.sent += 1
        log.info("incoming_call.notice", terminal=terminal_id, call=notice.call_ref,
                 state=notice.state)  # fmt: skip
