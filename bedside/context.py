"""The patient-safe context of each bed's terminal, and each terminal's config, kept retained
on the broker from the domain events.

Admission, reopening, updates of the patient, the stay or the line → the context is composed
again from the ``Stays`` read API and published retained to the bed's terminal; transfer →
erased from the old bed's terminal, published to the new one; discharge or cancellation → an
empty retained message, so nothing about the patient stays on the broker. Never clinical data:
:class:`~bedside.contract.PatientContext` has no field for it.

After every (re)connection to the broker, :meth:`BedsideContext.resync` rebuilds the whole
retained state from the database, whatever the broker kept: the config of every terminal,
the context of every occupied bed and an explicit empty message for every other terminal.

Ordering: every publish is *read, publish, verify*. The state is read from the database,
published, and read again once the broker has acknowledged it; a bed whose state changed in
between is published again. In one process the live events and the resync are also
serialised by a lock; the verification keeps it right across several service instances
(whichever publish lands last, its publisher checked afterwards that the database had not
moved on, or published again).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Protocol, cast, get_args

import structlog

from bedside import beds
from bedside.beds import BedPlace, Places, SessionSource
from bedside.contract import (
    Language,
    MealOrdering,
    PatientContext,
    PhoneLine,
    PhoneState,
    Services,
    TerminalConfig,
    TvChannel,
)
from bedside.errors import BedsideError
from bedside.options import ChannelEntry
from bedside.stays_port import StayFacts, StayReader
from bedside.topics import Topics
from wardline.bus import EventBus
from wardline.domain.errors import NotFound
from wardline.domain.events import (
    DomainEvent,
    InventoryLoaded,
    LineChanged,
    PatientUpdated,
    StayAdmitted,
    StayCancelled,
    StayDischarged,
    StayLeaveChanged,
    StayReopened,
    StayTransferred,
)

log = structlog.get_logger(__name__)
LANGUAGES: tuple[str, ...] = get_args(Language)


class RetainedPublisher(Protocol):
    async def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None: ...
    async def publish_many(self, messages: Iterable[tuple[str, bytes, bool]]) -> None: ...


EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
VERIFY_ROUNDS = 5


def _language(value: str | None, default: str) -> Language:
    chosen = value if value in LANGUAGES else default
    return cast(Language, chosen if chosen in LANGUAGES else "fr")


def phone_state(stay: StayFacts) -> PhoneState:
    if stay.did is None:
        return "none"
    if stay.line_suspended:
        return "suspended"
    return "do_not_disturb" if stay.do_not_disturb else "active"


def compose_context(
    stay: StayFacts, place: BedPlace, *, now: datetime, default_language: str
) -> PatientContext:
    """The patient-safe context of ``stay`` in ``place`` (pure)."""
    patient = stay.patient
    meals: MealOrdering = "closed" if stay.on_leave else "open"
    return PatientContext(
        greeting_name=(patient.addressed_as or patient.given_name or "").strip()[:200],
        language=_language(patient.preferred_language, default_language),
        room=place.room,
        bed_label=place.label,
        phone=PhoneLine(number=stay.did, state=phone_state(stay)),
        services=Services(
            tv=True, phone=stay.did is not None and not stay.line_suspended, meals=True
        ),
        meal_ordering=meals,
        on_leave=stay.on_leave,
        updated_at=now,
    )


def compose_config(
    terminal_id: str,
    place: BedPlace | None,
    *,
    default_language: str,
    kiosk_base_url: str,
    lineup: Iterable[ChannelEntry],
) -> TerminalConfig:
    return TerminalConfig(
        bed_label=place.label if place else None,
        room=place.room if place else None,
        ward_code=place.ward_code if place else None,
        language=_language(None, default_language),
        channels=[TvChannel(number=c.number, name=c.name, url=c.url, kind=c.kind) for c in lineup],
        kiosk_url=f"{kiosk_base_url.rstrip('/')}/tv/{terminal_id}",
    )


def _utcnow() -> datetime:
    return datetime.now(UTC)


class BedsideContext:
    """Keeps every terminal's retained config and context in step with the domain."""

    def __init__(
        self,
        *,
        link: RetainedPublisher,
        stays: StayReader,
        db: SessionSource,
        topics: Topics,
        default_language: str,
        kiosk_base_url: str,
        lineup: Iterable[ChannelEntry] = (),
        clock: Callable[[], datetime] = _utcnow,
        places: Places | None = None,
    ) -> None:
        self._link = link
        self._stays = stays
        self._db = db
        self._places = places or Places(db)
        self._topics = topics
        self._language = default_language
        self._kiosk = kiosk_base_url
        self._lineup = list(lineup)
        self._clock = clock
        self._bed_of_stay: dict[int, str] = {}
        self._bed_of_patient: dict[int, str] = {}
        self.published = 0
        self.erased = 0
        # A resync and the live events are serialised: a resync's snapshot of the stays can
        # never be published after (and over) a newer event's context.
        self._order = asyncio.Lock()

    def subscribe(self, bus: EventBus) -> None:
        kinds = (
            StayAdmitted, StayTransferred, StayDischarged, StayCancelled, StayReopened,
            StayLeaveChanged, PatientUpdated, LineChanged, InventoryLoaded,
        )  # fmt: skip
        bus.subscribe(kinds, self.handle, name="bedside.context")

    async def handle(self, event: DomainEvent) -> None:
        if event.remote:
            # Another instance made the change and publishes the context itself: two
            # publishers reading the stays at different moments could leave the older on top.
            return
        if isinstance(event, InventoryLoaded):
            await self.resync()
            return
        async with self._order:
            await self._handle(event)

    async def _handle(self, event: DomainEvent) -> None:
        match event:
            case StayAdmitted(bed=bed) | StayReopened(bed=bed):
                await self.refresh_bed(bed.label)
            case StayTransferred(from_bed=old, to_bed=new):
                await self.refresh_bed(old.label)
                await self.refresh_bed(new.label)
            case StayDischarged(bed=bed) | StayCancelled(bed=bed):
                self._forget(event.stay_id)
                if bed is not None:
                    await self.refresh_bed(bed.label)
            case StayLeaveChanged(bed=bed) if bed is not None:
                await self.refresh_bed(bed.label)
            case LineChanged(bed=bed):
                await self.refresh_bed(bed.label)
            case PatientUpdated(stay_id=stay_id, patient_id=patient_id):
                label = self._bed_of_stay.get(stay_id) if stay_id is not None else None
                label = label or self._bed_of_patient.get(patient_id)
                if label is not None:
                    await self.refresh_bed(label)
            case _:
                return

    async def _stay_for_bed(self, label: str) -> StayFacts | None:
        try:
            stay = await self._stays.stay_for_bed(label)
        except NotFound:
            return None
        if stay is None or stay.status != "active":
            return None
        return stay

    def _forget(self, stay_id: int) -> None:
        self._bed_of_stay.pop(stay_id, None)

    async def refresh_bed(self, label: str) -> None:
        """Publish the context of whoever lies in bed ``label`` now, or erase it."""
        place = await self._places.of_bed(label)
        if place is None or place.terminal_id is None:
            log.info("context.no_terminal", bed=label)
            return
        stay = await self._stay_for_bed(label)
        for _ in range(VERIFY_ROUNDS):
            await self._link.publish_many([self._context_message(place, stay)])
            self._after_publish(place, stay)
            again = await self._stay_for_bed(label)
            if self._fingerprint(place, again) == self._fingerprint(place, stay):
                return
            stay = again  # changed while we published: the newer state goes out too
        log.warning("context.unsettled", bed=label)

    def _fingerprint(self, place: BedPlace, stay: StayFacts | None) -> bytes:
        """What the terminal would be told, without the time of composition."""
        if stay is None:
            return b""
        return compose_context(stay, place, now=EPOCH, default_language=self._language).to_bytes()

    def _context_message(self, place: BedPlace, stay: StayFacts | None) -> tuple[str, bytes, bool]:
        assert place.terminal_id is not None
        topic = self._topics.context(place.terminal_id)
        if stay is None:
            return topic, b"", True
        ctx = compose_context(stay, place, now=self._clock(), default_language=self._language)
        return topic, ctx.to_bytes(), True

    def _after_publish(self, place: BedPlace, stay: StayFacts | None) -> None:
        assert place.terminal_id is not None
        for stays in (self._bed_of_stay, self._bed_of_patient):
            for key in [k for k, v in stays.items() if v == place.label]:
                del stays[key]
        if stay is None:
            self.erased += 1
            log.debug("context.erased", terminal=place.terminal_id, bed=place.label)
        else:
            self._bed_of_stay[stay.stay_id] = place.label
            self._bed_of_patient[stay.patient.id] = place.label
            self.published += 1
            log.debug("context.published", terminal=place.terminal_id, stay=stay.stay_id)

    async def _occupants(self) -> dict[str, StayFacts]:
        return {s.bed.label: s for s in await self._stays.active_stays() if s.bed is not None}

    async def resync(self) -> None:
        """Rebuild every terminal's retained config and context from the database (after
        every connection to the broker, and on an inventory reload)."""
        async with self._order:
            await self._resync()

    async def _resync(self) -> None:
        self._places.invalidate()
        places = await self._places.load()
        async with self._db.session() as session:
            terminal_ids = await beds.terminal_ids(session)
        by_terminal = {p.terminal_id: p for p in places if p.terminal_id is not None}
        messages = []
        for tid in terminal_ids:
            config = compose_config(
                tid,
                by_terminal.get(tid),
                default_language=self._language,
                kiosk_base_url=self._kiosk,
                lineup=self._lineup,
            )
            messages.append((self._topics.config(tid), config.to_bytes(), True))
        # A terminal of the inventory without a bed gets an empty context too.
        for tid in terminal_ids:
            if tid not in by_terminal:
                messages.append((self._topics.context(tid), b"", True))
        bedded = list(by_terminal.values())
        active = await self._occupants()
        occupants = [(place, active.get(place.label)) for place in bedded]
        messages += [self._context_message(place, stay) for place, stay in occupants]
        await self._link.publish_many(messages)
        for place, stay in occupants:
            self._after_publish(place, stay)
        for _ in range(VERIFY_ROUNDS):
            now = await self._occupants()
            moved = [
                (place, now.get(place.label))
                for place, stay in occupants
                if self._fingerprint(place, now.get(place.label)) != self._fingerprint(place, stay)
            ]
            if not moved:
                break
            await self._link.publish_many([self._context_message(p, s) for p, s in moved])
            for place, stay in moved:
                self._after_publish(place, stay)
            log.info("context.resync_moved", beds=len(moved))
            occupants = moved
        else:
            log.warning("context.resync_unsettled")
        log.info("context.resync", terminals=len(terminal_ids))

    async def erase_strays(self, retained: Iterable[str]) -> int:
        """Erase the retained config and context of terminals no longer in the inventory
        (``retained``: the topics the broker keeps); the number of terminals erased."""
        async with self._order:
            async with self._db.session() as session:
                known = set(await beds.terminal_ids(session))
            strays = set()
            for topic in retained:
                try:
                    ref = self._topics.parse(topic)
                except BedsideError:
                    continue
                if ref.terminal_id not in known and ref.channel in ("config", "context"):
                    strays.add(ref.terminal_id)
            if strays:
                await self._link.publish_many(
                    [(t(tid), b"", True) for tid in sorted(strays)
                     for t in (self._topics.config, self._topics.context)]
                )  # fmt: skip
                log.info("context.strays_erased", terminals=len(strays))
            return len(strays)
