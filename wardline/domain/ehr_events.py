"""Domain events of the EHR bridge (ids only, never clinical data)."""

from __future__ import annotations

from dataclasses import dataclass

from wardline.domain.events import DomainEvent


@dataclass(frozen=True, kw_only=True)
class BedsideWriteRefused(DomainEvent):
    """The EHR refused a bedside write for good: the nurse and the admin must see it."""

    visit_number: str
    business_id: str
    kind: str
    """administration or vitals"""


@dataclass(frozen=True, kw_only=True)
class AdtMessageRefused(DomainEvent):
    """An ADT message could not be applied (AE): it waits on the admin page for a replay."""

    message_id: int
    error_id: str
