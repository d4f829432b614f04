"""Receive, persist and apply ADT messages: the part of the listener that knows no socket.

``receive(raw)`` persists the message, applies it through the domain and returns the ACK
bytes. Messages of one patient are applied in the order they were persisted (per-patient lock;
earlier unprocessed messages of the same patient go first). A duplicate (same sender and
MSH-10) is answered with the stored acknowledgement and never applied twice.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

import structlog
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from ehr_bridge import adt_inbox as inbox
from ehr_bridge.adt_batches import AdtBatches, StayCommands
from ehr_bridge.adt_claims import AppliedElsewhere, OutOfTurn, claim, waiting_before
from ehr_bridge.adt_message import IGNORED_EVENTS, AdtMessage, Command, parse_adt
from ehr_bridge.adt_refusals import StorageRefused, hl7_error_code, refused, safe_key
from ehr_bridge.coalescing import Coalescing
from ehr_bridge.errors import Hl7Error, IgnoredEvent, UnsupportedMessage
from ehr_bridge.hl7_ack import AckError, build_ack
from ehr_bridge.hl7_fields import MessageHeader, header_of
from ehr_bridge.hl7_time import LocalZones
from wardline.bus import EventBus
from wardline.db.base import utcnow
from wardline.db.engine import Database
from wardline.db.models import Site, Ward
from wardline.domain.commands import SYSTEM_ADT, Actor, Admit, Discharge, Transfer
from wardline.domain.ehr_events import AdtMessageRefused
from wardline.domain.errors import DomainError
from wardline.errors import StorageError
from wardline.ward_time import WardTime

log = structlog.get_logger(__name__)

ZONES_REFRESH_SECONDS = 60.0


@dataclass(frozen=True, kw_only=True)
class Outcome:
    message_id: int | None
    ack_code: str
    status: str
    error_id: str | None = None
    error: str | None = None


class AdtProcessor:
    def __init__(
        self,
        db: Database,
        stays: StayCommands,
        *,
        default_charset: str = "iso-8859-1",
        ward_aliases: dict[str, str] | None = None,
        zones: LocalZones | None = None,
        ignored_events: frozenset[str] = IGNORED_EVENTS,
        actor: Actor = SYSTEM_ADT,
        clock: Callable[[], datetime] = utcnow,
        bus: EventBus | None = None,
        ward_time: WardTime | None = None,
    ) -> None:
        self.db, self.stays, self.actor, self.clock = db, stays, actor, clock
        self.bus = bus
        self.default_charset = default_charset
        self.ward_aliases = ward_aliases or {}
        self.zones = zones or LocalZones()
        self.ward_time = ward_time  # the zones of sites named in the core settings
        self._zones_read = -ZONES_REFRESH_SECONDS
        self.ignored_events = ignored_events
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}
        self._in_flight: dict[str, set[int]] = {}
        self.counts: dict[str, int] = {"AA": 0, "AE": 0, "AR": 0, "duplicate": 0}
        self.batches: AdtBatches[Outcome] = AdtBatches(
            db,
            stays,
            actor=actor,
            clock=clock,
            alone=self._apply_alone,
            applied=_applied,
        )

        # messages received together are persisted in one statement
        self._persisting: Coalescing[inbox.NewMessage, tuple[inbox.InboxEntry, bool]] = Coalescing(
            self._persist_all, name="adt-persist"
        )

    async def close(self) -> None:
        """Stop the workers (messages waiting get no ACK: their senders send again)."""
        await self._persisting.close()
        await self.batches.close()

    # -- entry points -------------------------------------------------------------------
    async def receive(self, raw: bytes) -> bytes:
        """Persist, apply and acknowledge one message (MLLP frame content)."""
        outcome, header = await self.receive_outcome(raw)
        self.counts[outcome.ack_code] = self.counts.get(outcome.ack_code, 0) + 1
        return self.ack_bytes(header, outcome)

    def parse(self, raw: bytes) -> AdtMessage:
        """The message as this processor reads it (charset, ward aliases, zones, events)."""
        return parse_adt(
            raw,
            self.default_charset,
            self.ward_aliases,
            zones=self.zones,
            ignored_events=self.ignored_events,
        )

    async def receive_outcome(self, raw: bytes) -> tuple[Outcome, MessageHeader | None]:
        now = self.clock()
        await self._read_ward_zones()
        try:
            message = self.parse(raw)
        except Hl7Error as exc:
            return await self._settle_unusable(raw, exc, now)
        new_message = inbox.NewMessage(
            raw=raw,
            sender=message.header.sender,
            control_id=message.header.control_id,
            message_type=_type_of(message.header),
            charset=message.codec,
            patient_key=message.patient_key,
            received_at=now,
            movement_at=message.time.at if message.time else None,
        )
        try:
            entry, new = await self._persisting.submit(new_message)
        except StorageRefused as exc:
            log.warning("adt.storage_refused", error_id=exc.error_id, sqlstate=exc.sqlstate)
            return Outcome(
                message_id=None,
                ack_code="AR",
                status=inbox.REJECTED,
                error_id=exc.error_id,
                error=exc.message,
            ), message.header
        if not new:
            self.counts["duplicate"] += 1
            log.info("adt.duplicate", message_id=entry.id, status=entry.status)
            if entry.status != inbox.RECEIVED:
                return _outcome_of(entry), message.header
            return await self.process(entry.id, patient_key=message.patient_key), message.header
        outcome = await self.process(
            entry.id, patient_key=message.patient_key, fresh=(entry, message)
        )
        return outcome, message.header

    async def _settle_unusable(
        self, raw: bytes, exc: Hl7Error, now: datetime
    ) -> tuple[Outcome, MessageHeader | None]:
        """Store a message that cannot be applied, settled: AA for an event ignored on
        purpose, AR otherwise. A key unfit to store (control characters, too long) is
        replaced by a generated one; the ACK still echoes the message's own."""
        header = header_of(raw, self.default_charset)
        ignored = isinstance(exc, IgnoredEvent) and header is not None
        code, status = ("AA", inbox.IGNORED) if ignored else ("AR", inbox.REJECTED)
        sender, control_id = safe_key(header)
        try:
            entry, _new = await inbox.persist(
                self.db,
                raw=raw,
                sender=sender,
                control_id=control_id,
                message_type=_type_of(header),
                charset=header.charset if header else "",
                patient_key=None,
                received_at=now,
                settled=(status, code, exc.error_id, exc.message),
            )
        except DBAPIError as db_exc:
            # refused by the database even so: answered, never a feed blocked behind it
            failure = refused(db_exc)
            log.warning("adt.storage_refused", error_id=exc.error_id, sqlstate=failure.sqlstate)
            return Outcome(
                message_id=None,
                ack_code="AR",
                status=inbox.REJECTED,
                error_id=exc.error_id,
                error=exc.message,
            ), header
        if ignored:
            log.info("adt.ignored", message_id=entry.id, error_id=exc.error_id)
        else:
            kind = "unsupported" if isinstance(exc, UnsupportedMessage) else "malformed"
            log.warning("adt.rejected", message_id=entry.id, error_id=exc.error_id, kind=kind)
        return _outcome_of(entry, fallback=(code, exc.error_id, exc.message)), header

    async def process(
        self,
        message_id: int,
        *,
        retry_errors: bool = False,
        patient_key: str | None = None,
        fresh: tuple[inbox.InboxEntry, AdtMessage] | None = None,
    ) -> Outcome:
        """Apply one persisted message, after the earlier pending ones of its patient.

        ``fresh``: the message was just persisted by this process and parsed; when no
        earlier message of the patient is in flight here, no database read is needed (a
        duplicate arriving meanwhile waits for the lock and reads the settled status)."""
        if patient_key is None:
            entry = await inbox.get(self.db, message_id)
            if entry is None:
                raise StorageError("adt.unknown_message", f"no inbound message {message_id}")
            patient_key = entry.patient_key or ""
        key = patient_key or f"message:{message_id}"
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        in_flight = self._in_flight.setdefault(key, set())
        earlier = any(other < message_id for other in in_flight)
        in_flight.add(message_id)
        try:
            async with lock:
                if fresh is not None and not earlier:
                    entry, message = fresh
                    return await self.batches.apply(entry, await self._in_order(entry, message))
                outcome: Outcome | None = None
                for entry in await inbox.due_with(self.db, patient_key or None, message_id):
                    mine = entry.id == message_id
                    result = await self._apply_one(entry, retry_errors=retry_errors and mine)
                    if mine:
                        outcome = result
                if outcome is None:
                    raise StorageError("adt.unknown_message", f"no inbound message {message_id}")
                return outcome
        finally:
            in_flight.discard(message_id)
            lock, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
                self._in_flight.pop(key, None)
            else:
                self._locks[key] = (lock, users - 1)

    async def replay(self, message_id: int) -> Outcome:
        """Apply again a message the domain refused (admin page), e.g. once the bed exists."""
        return await self.process(message_id, retry_errors=True)

    async def recover(self) -> int:
        """At start-up: apply, once and in order, what was persisted but never processed."""
        done = 0
        for message_id, key in await inbox.pending(self.db):
            await self.process(message_id, patient_key=key or "")
            done += 1
        if done:
            log.info("adt.recovered", messages=done)
        return done

    # -- internals ----------------------------------------------------------------------
    async def _persist_all(
        self, messages: list[inbox.NewMessage]
    ) -> list[tuple[inbox.InboxEntry, bool] | Exception]:
        try:
            return [*await inbox.persist_many(self.db, messages)]
        except DBAPIError as exc:  # refused (unavailable is StorageError, raised to all)
            if len(messages) == 1:
                return [refused(exc)]
        # one message the database refuses must not cost the others theirs: one by one
        results: list[tuple[inbox.InboxEntry, bool] | Exception] = []
        for message in messages:
            try:
                results.extend(await inbox.persist_many(self.db, [message]))
            except DBAPIError as exc:
                results.append(refused(exc))
        return results

    async def _read_ward_zones(self) -> None:
        """The zone of each ward's site, read again at most once a minute, when the sites
        are in several zones (``Settings.site_timezones``)."""
        ward_time = self.ward_time
        if ward_time is None or not ward_time.by_site:
            return
        if time.monotonic() - self._zones_read < ZONES_REFRESH_SECONDS:
            return
        self._zones_read = time.monotonic()
        async with inbox.reading(self.db) as s:
            rows = await s.execute(select(Ward.code, Site.code).join(Site, Site.id == Ward.site_id))
            by_ward = {
                ward: ward_time.by_site[site] for ward, site in rows if site in ward_time.by_site
            }
        self.zones = replace(self.zones, by_ward=by_ward)

    async def _in_order(self, entry: inbox.InboxEntry, message: AdtMessage) -> Command:
        """The command, its time chosen when the local time happened twice (autumn): the
        occurrence that keeps the order of the patient's movements, else the first."""
        time = message.time
        if time is None or time.later is None:
            return message.command
        previous = await inbox.last_movement(self.db, message.patient_key, entry.id)
        second = previous is not None and time.at < previous <= time.later
        log.info(
            "adt.ambiguous_local_time",
            message_id=entry.id,
            occurrence="second" if second else "first",
            by="movement_order" if previous is not None else "default",
        )
        command = message.command
        if not second or not isinstance(command, Admit | Transfer | Discharge):
            return command
        await inbox.set_movement_at(self.db, entry.id, time.later)
        return replace(command, at=time.later)

    async def _apply_alone(self, entry: inbox.InboxEntry, command: Command) -> Outcome:
        try:
            return await self._apply_one(entry, retry_errors=False, command=command)
        except OutOfTurn:  # an earlier message of the patient, persisted by another instance
            for earlier in await waiting_before(self.db, entry):
                await self._apply_one(earlier, retry_errors=False)
            return await self._apply_one(entry, retry_errors=False, command=command)

    async def _apply_one(
        self, entry: inbox.InboxEntry, *, retry_errors: bool, command: Command | None = None
    ) -> Outcome:
        message_id = entry.id
        allowed = {inbox.RECEIVED, inbox.ERROR} if retry_errors else {inbox.RECEIVED}
        if entry.status not in allowed:
            return _outcome_of(entry)
        try:
            if command is None:
                command = await self._in_order(entry, self.parse(entry.raw))
            with structlog.contextvars.bound_contextvars(adt_message_id=message_id):
                # The stay change and the message's settlement commit together: a crash
                # can never leave a message applied but still pending (applied twice).
                async with self.db.session() as s:
                    mine = [(message_id, entry.patient_key)]
                    if not await claim(s, mine, statuses=sorted(allowed)):
                        raise AppliedElsewhere("adt.applied_elsewhere", "settled elsewhere")
                    _view, events = await self.stays.apply_in(s, command, self.actor)
                    await inbox.settle_in(
                        s, message_id, status=inbox.APPLIED, ack_code="AA", at=self.clock()
                    )
                self.stays.publish(events)
        except (DomainError, Hl7Error) as exc:
            status, code, error_id, text = inbox.ERROR, "AE", exc.error_id, exc.message
            if isinstance(exc, Hl7Error):
                status, code = inbox.REJECTED, "AR"
            log.info("adt.refused", message_id=message_id, error_id=error_id)
        except AppliedElsewhere:
            return _outcome_of(await inbox.get(self.db, message_id) or entry)
        except StorageError:
            raise
        except DBAPIError as exc:
            failure = refused(exc)
            status, code, error_id, text = inbox.ERROR, "AE", failure.error_id, failure.message
            log.warning("adt.storage_refused", message_id=message_id, sqlstate=failure.sqlstate)
        except Exception as exc:
            status, code, error_id, text = inbox.ERROR, "AE", "adt.internal", type(exc).__name__
            log.exception("adt.apply_failed", message_id=message_id)
        else:
            log.info("adt.applied", message_id=message_id)
            return Outcome(message_id=message_id, ack_code="AA", status=inbox.APPLIED)
        await inbox.settle(
            self.db,
            message_id,
            status=status,
            ack_code=code,
            at=self.clock(),
            error_id=error_id or None,
            error=text or None,
        )
        if status == inbox.ERROR and self.bus is not None:
            self.bus.publish(AdtMessageRefused(message_id=message_id, error_id=error_id))
        return Outcome(
            message_id=message_id,
            ack_code=code,
            status=status,
            error_id=error_id or None,
            error=text or None,
        )

    def ack_bytes(self, header: MessageHeader | None, outcome: Outcome) -> bytes:
        error = None
        if outcome.ack_code != "AA":
            error_id = outcome.error_id or "adt.internal"
            error = AckError(
                code=hl7_error_code(error_id), text=outcome.error or error_id, error_id=error_id
            )
        zone = self.zones.of(header.sending_facility if header else "")
        text = build_ack(header, outcome.ack_code, error, now=self.clock(), zone=zone)
        codec = header.charset if header and header.charset else self.default_charset
        return text.encode(codec, errors="replace")


def _type_of(header: MessageHeader | None) -> str:
    if header is None:
        return ""
    return f"{header.message_type}^{header.trigger}" if header.trigger else header.message_type


def _outcome_of(entry: inbox.InboxEntry, fallback: tuple[str, str, str] | None = None) -> Outcome:
    code = entry.ack_code or (fallback[0] if fallback else "AE")
    return Outcome(
        message_id=entry.id,
        ack_code=code,
        status=entry.status,
        error_id=entry.error_id or (fallback[1] if fallback else None),
        error=entry.error or (fallback[2] if fallback else None),
    )


def _applied(message_id: int) -> Outcome:
    return Outcome(message_id=message_id, ack_code="AA", status=inbox.APPLIED)
