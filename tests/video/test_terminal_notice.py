"""The bed's terminal is told of its video visit on ``notify`` (the payload validated by the
terminal contract's own parser); a visit of a bed without terminal sends nothing."""

from __future__ import annotations

from collections.abc import Iterable

from bedside.contract import VideoVisitNotice, parse_notice
from bedside.topics import Topics
from bedside.video_notice import VideoVisitBanner
from wardline.bus import EventBus
from wardline.domain.video_events import VisitAccepted, VisitEnded, VisitInvited


class Sent:
    def __init__(self) -> None:
        self.messages: list[tuple[str, bytes, bool]] = []

    async def publish_many(self, messages: Iterable[tuple[str, bytes, bool]]) -> None:
        self.messages.extend(messages)


async def test_invitation_acceptance_and_end_reach_the_terminal() -> None:
    bus, sent, topics = EventBus(), Sent(), Topics()
    VideoVisitBanner(link=sent, topics=topics).subscribe(bus)
    await bus.start()
    where = {"bed_label": "CARDIO-101-A", "ward_code": "CARDIO"}
    bus.publish(
        VisitInvited(
            visit_id=7,
            terminal_id="T-1",
            invited_by="Nina Rossi",
            invited_by_role="nurse",
            others=("Nina Rossi",),
            **where,
        )
    )
    bus.publish(
        VisitInvited(
            visit_id=8,
            terminal_id=None,
            invited_by="X",
            invited_by_role="nurse",
            others=(),
            **where,
        )
    )
    bus.publish(VisitAccepted(visit_id=7, terminal_id="T-1", **where))
    bus.publish(VisitEnded(visit_id=7, terminal_id="T-1", reason="patient", **where))
    await bus.drain()
    await bus.stop()
    assert [topic for topic, _, _ in sent.messages] == [topics.notify("T-1")] * 3
    assert not any(retained for _, _, retained in sent.messages)
    notices = [parse_notice(payload) for _, payload, _ in sent.messages]
    assert all(isinstance(n, VideoVisitNotice) for n in notices)
    assert [(n.visit_ref, n.state) for n in notices] == [  # type: ignore[union-attr]
        ("7", "invited"),
        ("7", "live"),
        ("7", "ended"),
    ]
    assert notices[0].from_name == "Nina Rossi"  # type: ignore[union-attr]
