"""Nurse calls: raised from a terminal (button, pull cord) or the TV, stored with every
timestamp, escalated along the ward's levels until a nurse acknowledges, cleared by a nurse's
badge at the bed. Domain events tell telephony and the console; notices tell the terminals.

The clock and the sleep are injected, so tests escalate without waiting.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import Any, Protocol

import structlog
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bedside import beds
from bedside.beds import BedPlace, Places, SessionSource
from bedside.contract import NurseCallNotice, NurseCallPressed, NurseCallState
from bedside.models import NurseCall
from bedside.topics import Topics
from wardline.bus import EventBus
from wardline.db.models import StaffUser
from wardline.domain import staff
from wardline.domain.errors import Conflict, NotFound, PermissionDenied, unknown_bed
from wardline.domain.nurse_call_events import (
    NurseCallAcknowledged,
    NurseCallCleared,
    NurseCallEscalated,
    NurseCallRaised,
)
from wardline.domain.nurse_call_port import NurseCallView

log = structlog.get_logger(__name__)
NURSE_ROLES = frozenset({"nurse", "charge_nurse"})


def badge_hash(badge_id: str) -> str:
    """What ``staff_users.badge_hash`` stores for a badge read at the bed (the core's keyed
    hash, so a badge enrolled with ``wardline user add --badge`` clears calls)."""
    return staff.badge_hash(badge_id)


class NoticePublisher(Protocol):
    async def publish_many(self, messages: Iterable[tuple[str, bytes, bool]]) -> None: ...


def _utcnow() -> datetime:
    return datetime.now(UTC)


def view(call: NurseCall) -> NurseCallView:
    return NurseCallView(
        call_id=call.id, bed_label=call.bed_label, ward_code=call.ward_code, source=call.source,
        state=call.state, level=call.level, raised_at=call.raised_at,
        acknowledged_at=call.acknowledged_at, acknowledged_by=call.acknowledged_by,
        cleared_at=call.cleared_at, cleared_by=call.cleared_by,
        response_seconds=call.response_seconds,
    )  # fmt: skip


def due_level(
    escalation: Iterable[dict[str, Any]], elapsed: float
) -> tuple[int, dict[str, Any]] | None:
    """The last escalation step whose time limit has passed, numbered from 1 in order of
    time limit (pure). Steps are ``{level: name, after_seconds, extension | ward}``."""
    path = sorted(escalation, key=lambda e: float(e.get("after_seconds", 0)))
    passed = [(n, e) for n, e in enumerate(path, 1) if float(e.get("after_seconds", 0)) <= elapsed]
    return passed[-1] if passed else None


class NurseCalls:
    """The nurse-call service; implements :class:`wardline.domain.nurse_call_port.NurseCallPort`."""

    def __init__(
        self,
        *,
        db: SessionSource,
        bus: EventBus,
        link: NoticePublisher,
        topics: Topics,
        places: Places | None = None,
        clock: Callable[[], datetime] = _utcnow,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._db = db
        self.places = places or Places(db)
        self._bus = bus
        self._link = link
        self._topics = topics
        self._clock = clock
        self._sleep = sleep
        self._lock = asyncio.Lock()
        self._outbox: asyncio.Queue[tuple[NurseCallView, NurseCallState, list[str]]] = (
            asyncio.Queue()
        )
        self._notifier: asyncio.Task[None] | None = None

    # --- raising ------------------------------------------------------------------------

    async def raise_from_terminal(
        self, terminal_id: str, press: NurseCallPressed
    ) -> NurseCallView | None:
        """A press on a terminal; None when the terminal has no bed (nothing is raised)."""
        place = await self._place_of_terminal(terminal_id)
        if place is None:
            log.warning("nurse_call.terminal_without_bed", terminal=terminal_id)
            return None
        return await self._raise(place, f"{terminal_id}:{press.press_id}", press.source)

    async def _place_of_terminal(self, terminal_id: str) -> BedPlace | None:
        return await self.places.of_terminal(terminal_id)

    async def raise_from_tv(self, bed_label: str) -> NurseCallView:
        place = await self.places.of_bed(bed_label)
        if place is None:
            raise unknown_bed(bed_label)
        key = f"tv:{bed_label}:{self._clock().timestamp():.3f}"
        return await self._raise(place, key, "tv")

    async def _raise(self, place: BedPlace, press_key: str, source: str) -> NurseCallView:
        async with self._lock, self._db.session() as session:
            existing = await session.scalar(
                select(NurseCall).where(
                    (NurseCall.press_key == press_key)
                    | ((NurseCall.bed_label == place.label) & (NurseCall.state != "cleared"))
                )
            )
            if existing is not None:
                log.info("nurse_call.repeat", call=existing.id, bed=place.label)
                return view(existing)
            call = NurseCall(
                press_key=press_key, bed_label=place.label, ward_code=place.ward_code,
                terminal_id=place.terminal_id, source=source, state="open", level=0,
                raised_at=self._clock(), escalations=[],
            )  # fmt: skip
            session.add(call)
            try:
                await session.flush()
            except IntegrityError:  # a concurrent instance stored the same press
                await session.rollback()
                raise Conflict("nurse_call.duplicate", "this press is already recorded") from None
            raised = view(call)
        self._bus.publish(
            NurseCallRaised(
                call_id=raised.call_id, bed_label=place.label, ward_code=place.ward_code,
                nurse_station_extension=place.nurse_station_extension, source=source,
            )
        )  # fmt: skip
        log.info("nurse_call.raised", call=raised.call_id, bed=place.label, source=source)
        self._notify(raised, "received", [place.ward_code])
        return raised

    # --- nurse actions ------------------------------------------------------------------

    async def acknowledge(self, call_id: int, user: str) -> NurseCallView:
        async with self._lock, self._db.session() as session:
            nurse = await self._nurse(session, StaffUser.username == user)
            if nurse is None:
                raise PermissionDenied("nurse_call.not_nurse", "only a nurse may acknowledge")
            call = await session.get(NurseCall, call_id)
            if call is None:
                raise NotFound("nurse_call.unknown", "unknown nurse call", call_id=call_id)
            if call.state == "cleared":
                raise Conflict("nurse_call.cleared", "the call is already cleared")
            if call.state == "acknowledged":
                return view(call)
            call.state = "acknowledged"
            call.acknowledged_at = self._clock()
            call.acknowledged_by = nurse.username
            done = view(call)
        self._bus.publish(
            NurseCallAcknowledged(
                call_id=done.call_id, bed_label=done.bed_label, ward_code=done.ward_code,
                by=user, response_seconds=done.response_seconds or 0.0,
            )
        )  # fmt: skip
        log.info("nurse_call.acknowledged", call=call_id, seconds=done.response_seconds)
        self._notify(done, "acknowledged", [done.ward_code])
        return done

    async def clear_by_badge(self, bed_label: str, badge_id: str) -> NurseCallView | None:
        """Clear the bed's call when the badge is an active nurse's; otherwise change nothing."""
        async with self._lock, self._db.session() as session:
            nurse = await self._nurse(session, StaffUser.badge_hash == badge_hash(badge_id))
            if nurse is None:
                log.info("nurse_call.badge_refused", bed=bed_label)
                return None
            call = await session.scalar(
                select(NurseCall).where(
                    NurseCall.bed_label == bed_label, NurseCall.state != "cleared"
                )
            )
            if call is None:
                return None
            call.state = "cleared"
            call.cleared_at = self._clock()
            call.cleared_by = nurse.username
            done = view(call)
        self._bus.publish(
            NurseCallCleared(
                call_id=done.call_id, bed_label=done.bed_label, ward_code=done.ward_code,
                by=nurse.username, response_seconds=done.response_seconds,
            )
        )  # fmt: skip
        log.info("nurse_call.cleared", call=done.call_id, bed=bed_label)
        self._notify(done, "cleared", [done.ward_code])
        return done

    async def clear_from_terminal(self, terminal_id: str, badge_id: str) -> NurseCallView | None:
        place = await self.places.of_terminal(terminal_id)
        if place is None:
            return None
        return await self.clear_by_badge(place.label, badge_id)

    async def _nurse(self, session: AsyncSession, condition: Any) -> StaffUser | None:
        user = await session.scalar(select(StaffUser).where(condition, StaffUser.active))
        if user is None or not (user.role_set & NURSE_ROLES):
            return None
        return user

    async def open_calls(self, ward_code: str) -> list[NurseCallView]:
        async with self._db.session() as session:
            calls = await session.scalars(
                select(NurseCall)
                .where(NurseCall.ward_code == ward_code, NurseCall.state != "cleared")
                .order_by(NurseCall.raised_at, NurseCall.id)
            )
            return [view(call) for call in calls]

    # --- escalation ---------------------------------------------------------------------

    async def escalate_due(self) -> list[NurseCallView]:
        """Escalate every open call whose next level's time limit has passed."""
        now = self._clock()
        raised: list[tuple[NurseCallView, dict[str, str | None], str | None]] = []
        async with self._lock, self._db.session() as session:
            calls = (
                await session.scalars(select(NurseCall).where(NurseCall.state == "open"))
            ).all()
            paths: dict[str, tuple[dict[str, Any], ...]] = {}
            for call in calls:
                if call.ward_code not in paths:
                    ward = await beds.ward_by_code(session, call.ward_code)
                    paths[call.ward_code] = tuple(ward.escalation or ()) if ward else ()
                due = due_level(paths[call.ward_code], (now - call.raised_at).total_seconds())
                if due is None or due[0] <= call.level:
                    continue
                number, step = due
                extension = step.get("extension")
                target_ward = step.get("ward")
                target_ward = str(target_ward) if target_ward else None
                if extension is None and target_ward is not None:
                    other = await beds.ward_by_code(session, str(target_ward))
                    extension = other.nurse_station_extension if other else None
                name = str(step.get("level", number))
                call.level = number
                call.escalated_at = now
                call.escalations = [
                    *call.escalations,
                    {"level": number, "name": name, "at": now.isoformat(),
                     "extension": extension, "ward": target_ward},
                ]  # fmt: skip
                target = {"extension": extension, "name": name}
                raised.append((view(call), target, target_ward))
        for done, target, target_ward in raised:
            self._bus.publish(
                NurseCallEscalated(
                    call_id=done.call_id, bed_label=done.bed_label, ward_code=done.ward_code,
                    level=done.level, level_name=str(target["name"]),
                    extension=target["extension"], target_ward_code=target_ward,
                )
            )  # fmt: skip
            log.warning("nurse_call.escalated", call=done.call_id, level=done.level)
            wards = [done.ward_code] + ([target_ward] if target_ward else [])
            self._notify(done, "escalated", wards)
        return [done for done, _, _ in raised]

    async def run_escalation(self, tick: float) -> None:
        """Background loop: check escalations every ``tick`` seconds (kept by the component)."""
        while True:
            try:
                await self.escalate_due()
            except Exception:
                log.exception("nurse_call.escalation_failed")
            await self._sleep(tick)

    # --- notices ------------------------------------------------------------------------

    def _notify(self, call: NurseCallView, state: NurseCallState, wards: list[str]) -> None:
        """Queue the terminals' notice: a caller (a web request, the gateway) never waits for
        the broker, and notices leave in the order of the calls' changes."""
        self._outbox.put_nowait((call, state, wards))
        if self._notifier is None or self._notifier.done():
            self._notifier = asyncio.create_task(self._deliver(), name="nurse-call:notices")

    async def notices_sent(self) -> None:
        """Wait until every queued notice was handed to the broker (tests, shutdown)."""
        await self._outbox.join()

    async def close(self) -> None:
        notifier, self._notifier = self._notifier, None
        if notifier is not None:
            notifier.cancel()
            await asyncio.gather(notifier, return_exceptions=True)

    async def _deliver(self) -> None:
        while True:
            call, state, wards = await self._outbox.get()
            try:
                await self._send_notice(call, state, wards)
            except Exception:
                # The call is stored and its domain event published: the terminals' notice
                # is best effort and must not undo it.
                log.exception("nurse_call.notify_failed", call=call.call_id)
            finally:
                self._outbox.task_done()

    async def _send_notice(
        self, call: NurseCallView, state: NurseCallState, wards: list[str]
    ) -> None:
        notice = NurseCallNotice(
            call_id=call.call_id, bed_label=call.bed_label, state=state, level=call.level
        ).to_bytes()
        places: list[BedPlace] = []
        for ward in dict.fromkeys(wards):
            places += await self.places.of_ward(ward)
        targets = sorted({p.terminal_id for p in places if p.terminal_id is not None})
        await self._link.publish_many([(self._topics.notify(t), notice, False) for t in targets])
