"""Domain events published on the in-process bus. Edges subscribe to them.

Events carry ids and the few facts an edge needs to act (bed extension, terminal, DID), never
clinical data; an edge that needs more reads it through the domain services.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, kw_only=True)
class DomainEvent:
    at: datetime = field(default_factory=_now)
    origin: str | None = field(default=None, compare=False, repr=False)
    """None for an event of this instance; the producing instance's name for an event another
    instance published (received through ``wardline.fanout``): a subscriber whose side effect
    belongs where the change was made skips it (see :attr:`remote`)."""

    @property
    def name(self) -> str:
        return type(self).__name__

    @property
    def remote(self) -> bool:
        """True when another instance produced this event (it is shown here, not acted on)."""
        return self.origin is not None


@dataclass(frozen=True, kw_only=True)
class BedRef:
    """What an edge needs to know about a bed to act on its phone and terminal."""

    bed_id: int
    label: str
    extension: str
    ward_code: str
    terminal_id: str | None


@dataclass(frozen=True, kw_only=True)
class StayEvent(DomainEvent):
    stay_id: int
    visit_number: str
    patient_id: int


@dataclass(frozen=True, kw_only=True)
class StayAdmitted(StayEvent):
    bed: BedRef
    did: str | None


@dataclass(frozen=True, kw_only=True)
class StayTransferred(StayEvent):
    from_bed: BedRef
    to_bed: BedRef
    did: str | None


@dataclass(frozen=True, kw_only=True)
class StayDischarged(StayEvent):
    bed: BedRef | None
    did: str | None


@dataclass(frozen=True, kw_only=True)
class StayCancelled(StayEvent):
    """An admission cancelled (A11): the stay is as if it never was."""

    bed: BedRef | None
    did: str | None


@dataclass(frozen=True, kw_only=True)
class StayReopened(StayEvent):
    """A discharge cancelled (A13): the stay is active again on its bed."""

    bed: BedRef
    did: str | None


@dataclass(frozen=True, kw_only=True)
class StayLeaveChanged(StayEvent):
    """Leave of absence started (A21) or ended (A22)."""

    bed: BedRef | None
    on_leave: bool


@dataclass(frozen=True, kw_only=True)
class PatientUpdated(DomainEvent):
    """Demographics or preferences changed (A08, merge); active stays may need a new context."""

    patient_id: int
    stay_id: int | None


@dataclass(frozen=True, kw_only=True)
class LineChanged(DomainEvent):
    """A bed line was suspended, restored, re-barred or got another DID."""

    bed: BedRef
    stay_id: int | None


@dataclass(frozen=True, kw_only=True)
class InventoryLoaded(DomainEvent):
    beds: int
    terminals: int
