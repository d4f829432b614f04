"""A video visit for a bed is told to its terminal on ``notify`` (QoS 1, not retained): the
invitation, its acceptance, refusal and end. The web's live feed carries the same to the TV
page; this lets the terminal itself wake the screen and show the camera's state."""

from __future__ import annotations

import structlog

from bedside.contract import VideoVisitNotice
from bedside.incoming_call import NoticePublisher
from bedside.topics import Topics
from wardline.bus import EventBus
from wardline.domain.video_events import (
    VisitAccepted,
    VisitDeclined,
    VisitEnded,
    VisitEvent,
    VisitInvited,
)

log = structlog.get_logger(__name__)
STATES: dict[type[VisitEvent], str] = {
    VisitInvited: "invited",
    VisitAccepted: "live",
    VisitDeclined: "declined",
    VisitEnded: "ended",
}


class VideoVisitBanner:
    def __init__(self, *, link: NoticePublisher, topics: Topics) -> None:
        self._link, self._topics = link, topics
        self.sent = 0

    def subscribe(self, bus: EventBus) -> None:
        bus.subscribe(tuple(STATES), self.handle, name="bedside.video_visit")

    async def handle(self, event: VisitEvent) -> None:
        state = STATES.get(type(event))
        if state is None or event.terminal_id is None:
            return
        notice = VideoVisitNotice(
            visit_ref=str(event.visit_id),
            state=state,
            from_name=event.invited_by if isinstance(event, VisitInvited) else None,
        )
        topic = self._topics.notify(event.terminal_id)
        await self._link.publish_many([(topic, notice.to_bytes(), False)])
        self.sent += 1
        log.info("bedside.video_notice", terminal=event.terminal_id, visit_id=event.visit_id)
