"""Rows of the video tables as the port's views (who, when, how long, state; never content)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import cast

from video.models import VideoParticipant, VideoVisit
from wardline.domain.video_port import Kind, ParticipantView, VisitView


def participant_view(p: VideoParticipant) -> ParticipantView:
    kind = cast(Kind, p.kind)
    return ParticipantView(p.id, kind, p.name, p.state, p.id if kind == "guest" else None)


def duration(visit: VideoVisit, now: datetime) -> int | None:
    if visit.accepted_at is None:
        return None
    end = visit.ended_at or now
    return max(0, int((end - visit.accepted_at).total_seconds()))


def visit_view(
    visit: VideoVisit, participants: Sequence[VideoParticipant], now: datetime
) -> VisitView:
    return VisitView(
        visit_id=visit.id,
        bed=visit.bed_label,
        ward_code=visit.ward_code,
        state=visit.state,
        started_by=visit.started_by,
        invited_at=visit.invited_at,
        invite_expires_at=visit.invite_expires_at,
        accepted_at=visit.accepted_at,
        ended_at=visit.ended_at,
        duration_seconds=duration(visit, now),
        end_reason=visit.end_reason,
        participants=tuple(participant_view(p) for p in sorted(participants, key=lambda p: p.id)),
    )
