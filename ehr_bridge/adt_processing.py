"""Receive, persist and apply ADT messages: the part of the listener that knows no socket.

``receive(raw)`` persists the message, applies it through the domain and returns the ACK
bytes. Messages of one patient are applied in the order they were persisted (per-patient lock;
earlier unprocessed messages of the same patient go first). A duplicate (same sender and
MSH-10) is answered with the stored acknowledgement and never applied twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import structlog

from ehr_bridge import adt_inbox as inbox
from ehr_bridge.adt_batches import AdtBatches, StayCommands
from ehr_bridge.adt_message import Command, parse_adt
from ehr_bridge.coalescing import Coalescing
from ehr_bridge.errors import Hl7Error, UnsupportedMessage
from ehr_bridge.hl7_ack import AckError, build_ack
from ehr_bridge.hl7_fields import MessageHeader, header_of
from wardline.bus import EventBus
from wardline.db.base import utcnow
from wardline.db.engine import Database
from wardline.domain.commands import SYSTEM_ADT, Actor
from wardline.domain.ehr_events import AdtMessageRefused
from wardline.domain.errors import DomainError
from wardline.errors import StorageError

log = structlog.get_logger(__name__)


def hl7_error_code(error_id: str) -> str:
    """HL7 table 0357 code for one of our error ids."""
    if error_id == "hl7.unsupported_type":
        return "200"
    if error_id == "hl7.unsupported_event":
        return "201"
    if error_id in {"hl7.bad_encoding", "hl7.bad_datetime", "hl7.unknown_charset"}:
        return "102"
    if error_id.startswith("hl7."):
        return "101"
    if error_id.endswith(".unknown"):
        return "204"
    return "207"


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
        actor: Actor = SYSTEM_ADT,
        clock: Callable[[], datetime] = utcnow,
        bus: EventBus | None = None,
    ) -> None:
        self.db, self.stays, self.actor, self.clock = db, stays, actor, clock
        self.bus = bus
        self.default_charset = default_charset
        self.ward_aliases = ward_aliases or {}
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

    async def receive_outcome(self, raw: bytes) -> tuple[Outcome, MessageHeader | None]:
        now = self.clock()
        try:
            message = parse_adt(raw, self.default_charset, self.ward_aliases)
        except Hl7Error as exc:
            header = header_of(raw, self.default_charset)
            ignored = exc.error_id == "hl7.unsupported_event" and header is not None
            settled = (
                (inbox.IGNORED, "AA", exc.error_id, exc.message)
                if ignored
                else (inbox.REJECTED, "AR", exc.error_id, exc.message)
            )
            entry, _new = await inbox.persist(
                self.db,
                raw=raw,
                sender=header.sender if header else "",
                control_id=header.control_id if header else "",
                message_type=_type_of(header),
                charset=header.charset if header else "",
                patient_key=None,
                received_at=now,
                settled=settled,
            )
            if ignored:
                log.info("adt.ignored", message_id=entry.id, error_id=exc.error_id)
            else:
                kind = "unsupported" if isinstance(exc, UnsupportedMessage) else "malformed"
                log.warning("adt.rejected", message_id=entry.id, error_id=exc.error_id, kind=kind)
            return _outcome_of(entry, fallback=(settled[1], exc.error_id, exc.message)), header
        entry, new = await self._persisting.submit(
            inbox.NewMessage(
                raw=raw,
                sender=message.header.sender,
                control_id=message.header.control_id,
                message_type=_type_of(message.header),
                charset=message.codec,
                patient_key=message.patient_key,
                received_at=now,
            )
        )
        if not new:
            self.counts["duplicate"] += 1
            log.info("adt.duplicate", message_id=entry.id, status=entry.status)
            if entry.status != inbox.RECEIVED:
                return _outcome_of(entry), message.header
            return await self.process(entry.id, patient_key=message.patient_key), message.header
        outcome = await self.process(
            entry.id, patient_key=message.patient_key, fresh=(entry, message.command)
        )
        return outcome, message.header

    async def process(
        self,
        message_id: int,
        *,
        retry_errors: bool = False,
        patient_key: str | None = None,
        fresh: tuple[inbox.InboxEntry, Command] | None = None,
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
                    return await self.batches.apply(fresh[0], fresh[1])
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
        return [*await inbox.persist_many(self.db, messages)]

    async def _apply_alone(self, entry: inbox.InboxEntry, command: Command) -> Outcome:
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
                command = parse_adt(entry.raw, self.default_charset, self.ward_aliases).command
            with structlog.contextvars.bound_contextvars(adt_message_id=message_id):
                # The stay change and the message's settlement commit together: a crash
                # can never leave a message applied but still pending (applied twice).
                async with self.db.session() as s:
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
        except StorageError:
            raise
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
        text = build_ack(header, outcome.ack_code, error, now=self.clock())
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
