"""Video-visit events (owned by the video edge): the web's live feed shows them on the ward's
pages, the TV and the guest's waiting room; bedside tells the terminal over MQTT. Ids, bed
labels and the names people are known by in the visit only: never patient data, never media."""

from __future__ import annotations

from dataclasses import dataclass

from wardline.domain.events import DomainEvent


@dataclass(frozen=True, kw_only=True)
class VisitEvent(DomainEvent):
    visit_id: int
    bed_label: str
    ward_code: str
    terminal_id: str | None


@dataclass(frozen=True, kw_only=True)
class VisitInvited(VisitEvent):
    """Staff invited the patient: the TV asks them to accept or decline."""

    invited_by: str
    invited_by_role: str
    others: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class VisitAccepted(VisitEvent):
    pass


@dataclass(frozen=True, kw_only=True)
class VisitDeclined(VisitEvent):
    pass


@dataclass(frozen=True, kw_only=True)
class VisitEnded(VisitEvent):
    reason: str  # staff, patient, no_answer, expired, discharged


@dataclass(frozen=True, kw_only=True)
class VisitParticipantEvent(VisitEvent):
    participant_id: int
    kind: str  # tv, staff, guest
    who: str  # the name the participant is known by in the visit


@dataclass(frozen=True, kw_only=True)
class VisitGuestWaiting(VisitParticipantEvent):
    pass


@dataclass(frozen=True, kw_only=True)
class VisitGuestAdmitted(VisitParticipantEvent):
    pass


@dataclass(frozen=True, kw_only=True)
class VisitParticipantJoined(VisitParticipantEvent):
    pass


@dataclass(frozen=True, kw_only=True)
class VisitParticipantLeft(VisitParticipantEvent):
    pass


ALL_VISIT_EVENTS: tuple[type[VisitEvent], ...] = (
    VisitInvited,
    VisitAccepted,
    VisitDeclined,
    VisitEnded,
    VisitGuestWaiting,
    VisitGuestAdmitted,
    VisitParticipantJoined,
    VisitParticipantLeft,
)
