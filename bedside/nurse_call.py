"""Nurse calls: raised from a terminal (button, pull cord) or the TV, stored with every
timestamp, escalated along the ward's levels until someone acknowledges (answering the ring at
a phone, or the console's nurse-call panel), cleared by a nurse's badge at the bed. Every
acknowledgement and clearing is an audit row. Domain events tell telephony (which phones ring:
:class:`NurseCallRingWanted`, derived from the stored call and the ward's policy) and the
console; notices tell the terminals, for every press (a press while the call is open too).

The clock and the sleep are injected, so tests escalate without waiting.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bedside import beds
from bedside.beds import BedPlace, Places, SessionSource
from bedside.contract import NurseCallPressed, NurseCallState
from bedside.models import NurseCall
from bedside.nurse_call_notices import NoticeOutbox, NoticePublisher
from bedside.nurse_call_ring_plan import RingPlanner
from bedside.topics import Topics
from wardline.bus import EventBus
from wardline.cluster.leases import NURSE_CALL_ESCALATION, DutyLease, LeaseLost
from wardline.db.models import StaffUser
from wardline.domain import staff
from wardline.domain.audit import AuditLog
from wardline.domain.errors import Conflict, NotFound, PermissionDenied, unknown_bed
from wardline.domain.nurse_call_events import (
    NurseCallAcknowledged,
    NurseCallAnsweredAtPhone,
    NurseCallCleared,
    NurseCallEscalated,
    NurseCallEvent,
    NurseCallRaised,
    NurseCallRingWanted,
)
from wardline.domain.nurse_call_port import NurseCallView

log = structlog.get_logger(__name__)
NURSE_ROLES = frozenset({"nurse", "charge_nurse"})
CONSOLE_ROLES = NURSE_ROLES | {"switchboard"}
"""Who may acknowledge from the console: nurses, and the switchboard (which takes the call
on the ward's behalf, audited under its own name)."""


def badge_hash(badge_id: str) -> str:
    """What ``staff_users.badge_hash`` stores for a badge read at the bed (the core's keyed
    hash, so a badge enrolled with ``wardline user add --badge`` clears calls)."""
    return staff.badge_hash(badge_id)


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


class _StoredMeanwhile(Exception):
    """The press could not be stored: another instance stored it (or a call of the bed)."""


def _same_press_or_open_call(place: BedPlace, press_key: str) -> Select[Any]:
    return select(NurseCall).where(
        (NurseCall.press_key == press_key)
        | ((NurseCall.bed_label == place.label) & (NurseCall.state != "cleared"))
    )


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
        audit: AuditLog | None = None,
        planner: RingPlanner | None = None,
        clock: Callable[[], datetime] = _utcnow,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        lease: DutyLease | None = None,
    ) -> None:
        self._db = db
        self.lease = lease or DutyLease.solo(NURSE_CALL_ESCALATION)
        """Escalation and the rings of open calls are the holder's (several instances)."""
        self.places = places or Places(db)
        self._bus = bus
        self._audit = audit or AuditLog(clock=clock)
        self._planner = planner or RingPlanner()
        self._clock = clock
        self._sleep = sleep
        self._lock = asyncio.Lock()
        self._notices = NoticeOutbox(link=link, topics=topics, places=self.places)

    def subscribe(self, bus: EventBus) -> None:
        """Answering a ring at a phone acknowledges the call."""
        bus.subscribe(NurseCallAnsweredAtPhone, self._answered_at_phone, name="bedside.ring_answer")

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
        try:
            return await self._raise_once(place, press_key, source)
        except _StoredMeanwhile:
            pass
        # Another instance stored this press, or a call of the bed, at the same moment (the
        # unique press key and the one open call per bed hold across instances): a repeat.
        async with self._db.session() as session:
            existing = await session.scalar(_same_press_or_open_call(place, press_key))
        if existing is None:
            raise Conflict("nurse_call.duplicate", "this press is already recorded")
        repeat = view(existing)
        log.info("nurse_call.repeat", call=repeat.call_id, bed=place.label)
        state: NurseCallState = "acknowledged" if repeat.state == "acknowledged" else "received"
        self._notices.notify(repeat, state, [place.ward_code])
        return repeat

    async def _raise_once(self, place: BedPlace, press_key: str, source: str) -> NurseCallView:
        async with self._lock, self._db.session() as session:
            existing = await session.scalar(_same_press_or_open_call(place, press_key))
            if existing is not None:
                repeat = view(existing)
            else:
                repeat = None
                call = NurseCall(
                    press_key=press_key, bed_label=place.label, ward_code=place.ward_code,
                    terminal_id=place.terminal_id, source=source, state="open", level=0,
                    raised_at=self._clock(), escalations=[],
                )  # fmt: skip
                session.add(call)
                try:
                    await session.flush()
                except IntegrityError:  # a concurrent instance stored the same press
                    raise _StoredMeanwhile from None
                raised = view(call)
                ring = await self._planner.plan(session, call, place)
        if repeat is not None:
            # Every press gets its notice back: the patient sees the call is still on.
            log.info("nurse_call.repeat", call=repeat.call_id, bed=place.label)
            state: NurseCallState = "acknowledged" if repeat.state == "acknowledged" else "received"
            self._notices.notify(repeat, state, [place.ward_code])
            return repeat
        self._bus.publish(
            NurseCallRaised(
                call_id=raised.call_id, bed_label=place.label, ward_code=place.ward_code,
                nurse_station_extension=place.nurse_station_extension, source=source,
            )
        )  # fmt: skip
        self._bus.publish(ring)
        log.info("nurse_call.raised", call=raised.call_id, bed=place.label, source=source)
        self._notices.notify(raised, "received", [place.ward_code])
        return raised

    # --- acknowledging and clearing ----------------------------------------------------

    async def acknowledge(self, call_id: int, user: str, via: str = "console") -> NurseCallView:
        """A staff member takes the call (console): nurses, or the switchboard."""
        async with self._lock, self._db.session() as session:
            member = await self._staff(session, StaffUser.username == user, CONSOLE_ROLES)
            if member is None:
                raise PermissionDenied(
                    "nurse_call.not_nurse", "only a nurse or the switchboard may acknowledge"
                )
            done, changed = await self._acknowledge(session, call_id, member.username, via)
        return self._acknowledged(done, changed, via)

    async def acknowledge_at_phone(self, call_id: int, extension: str) -> NurseCallView:
        """The call's ring was answered at ``extension`` (reported by the ring's dialplan)."""
        async with self._lock, self._db.session() as session:
            done, changed = await self._acknowledge(session, call_id, f"phone:{extension}", "phone")
        return self._acknowledged(done, changed, "phone")

    async def _acknowledge(
        self, session: AsyncSession, call_id: int, by: str, via: str
    ) -> tuple[NurseCallView, bool]:
        call = await session.get(NurseCall, call_id)
        if call is None:
            raise NotFound("nurse_call.unknown", "unknown nurse call", call_id=call_id)
        if call.state == "cleared":
            raise Conflict("nurse_call.cleared", "the call is already cleared")
        if call.state == "acknowledged":
            return view(call), False
        call.state = "acknowledged"
        call.acknowledged_at = self._clock()
        call.acknowledged_by = by
        await self._audit.record(
            session, by, "nurse_call.acknowledge", "nurse_call", call.id,
            {"bed": call.bed_label, "ward": call.ward_code, "via": via, "level": call.level},
        )  # fmt: skip
        return view(call), True

    def _acknowledged(self, done: NurseCallView, changed: bool, via: str) -> NurseCallView:
        if not changed:
            return done
        self._bus.publish(
            NurseCallAcknowledged(
                call_id=done.call_id, bed_label=done.bed_label, ward_code=done.ward_code,
                by=done.acknowledged_by or "", response_seconds=done.response_seconds or 0.0,
                via=via,
            )
        )  # fmt: skip
        log.info("nurse_call.acknowledged", call=done.call_id, via=via)
        self._notices.notify(done, "acknowledged", [done.ward_code])
        return done

    async def _answered_at_phone(self, event: NurseCallEvent) -> None:
        if not isinstance(event, NurseCallAnsweredAtPhone):
            return
        try:
            await self.acknowledge_at_phone(event.call_id, event.extension)
        except (NotFound, Conflict) as exc:
            log.info("nurse_call.answer_ignored", call=event.call_id, error=exc.error_id)

    async def clear_by_badge(self, bed_label: str, badge_id: str) -> NurseCallView | None:
        """Clear the bed's call when the badge is an active nurse's; otherwise change nothing."""
        async with self._lock, self._db.session() as session:
            condition = StaffUser.badge_hash == badge_hash(badge_id)
            nurse = await self._staff(session, condition, NURSE_ROLES)
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
            await self._audit.record(
                session, nurse.username, "nurse_call.clear", "nurse_call", call.id,
                {"bed": call.bed_label, "ward": call.ward_code, "via": "badge"},
            )  # fmt: skip
            done = view(call)
        self._bus.publish(
            NurseCallCleared(
                call_id=done.call_id, bed_label=done.bed_label, ward_code=done.ward_code,
                by=nurse.username, response_seconds=done.response_seconds,
            )
        )  # fmt: skip
        log.info("nurse_call.cleared", call=done.call_id, bed=bed_label)
        self._notices.notify(done, "cleared", [done.ward_code])
        return done

    async def clear_from_terminal(self, terminal_id: str, badge_id: str) -> NurseCallView | None:
        place = await self.places.of_terminal(terminal_id)
        if place is None:
            return None
        return await self.clear_by_badge(place.label, badge_id)

    async def _staff(
        self, session: AsyncSession, condition: Any, roles: frozenset[str]
    ) -> StaffUser | None:
        user = await session.scalar(select(StaffUser).where(condition, StaffUser.active))
        if user is None or not (user.role_set & roles):
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

    # --- escalation and rings -----------------------------------------------------------

    async def escalate_due(self) -> list[NurseCallView]:
        """Escalate every open call whose next level's time limit has passed."""
        now = self._clock()
        raised: list[tuple[NurseCallView, dict[str, str | None], str | None]] = []
        rings: list[NurseCallRingWanted] = []
        async with self._lock, self._db.session() as session:
            await self.lease.fence(session)  # the levels stored only under the lease
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
                place = await self.places.of_bed(call.bed_label)
                if place is not None:
                    rings.append(await self._planner.plan(session, call, place))
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
            self._notices.notify(done, "escalated", wards)
        for ring in rings:
            self._bus.publish(ring)
        return [done for done, _, _ in raised]

    async def ring_open_calls(self) -> int:
        """Publish the ring of every call still open (at start: the calls are the state, the
        rings follow from them). Returns how many."""
        rings: list[NurseCallRingWanted] = []
        async with self._lock, self._db.session() as session:
            await self.lease.fence(session)
            calls = (
                await session.scalars(select(NurseCall).where(NurseCall.state == "open"))
            ).all()
            for call in calls:
                place = await self.places.of_bed(call.bed_label)
                if place is not None:
                    rings.append(await self._planner.plan(session, call, place))
        for ring in rings:
            self._bus.publish(ring)
        return len(rings)

    async def run_escalation(self, tick: float) -> None:
        """Background loop (kept by the component): while this instance holds the escalation
        lease, ring the calls left open (once per acquisition: the deadlines and levels are
        in the database, so a new holder carries on where the last one stopped), then check
        escalations every ``tick`` seconds. Any instance raises calls; only the holder
        escalates them."""
        rung = 0  # the lease's generation whose open calls were rung
        while True:
            try:
                if self.lease.held:
                    if rung != self.lease.generation:
                        generation = self.lease.generation
                        await self.ring_open_calls()
                        rung = generation
                    await self.escalate_due()
            except LeaseLost:
                log.info("nurse_call.escalation_lease_lost")
            except Exception:
                log.exception("nurse_call.escalation_failed")
            await self._sleep(tick)

    # --- notices ------------------------------------------------------------------------

    async def notices_sent(self) -> None:
        """Wait until every queued notice was handed to the broker (tests, shutdown)."""
        await self._notices.sent()

    async def close(self) -> None:
        await self._notices.close()
