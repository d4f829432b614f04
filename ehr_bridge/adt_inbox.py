"""The ADT inbox: every received message persisted (``inbound_messages``) before its ACK.

Statuses: ``received`` (persisted, not yet processed), ``applied`` (AA), ``error`` (the
domain refused it: AE, kept for replay), ``rejected`` (malformed or unsupported: AR).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from wardline.db.engine import Database, is_unavailable
from wardline.db.models import InboundMessage
from wardline.errors import StorageError

RECEIVED, APPLIED, ERROR, REJECTED = "received", "applied", "error", "rejected"
IGNORED = "ignored"
"""A known ADT event the hospital does not use (A05, A28...; a setting): acknowledged AA."""


@dataclass(frozen=True, kw_only=True)
class InboxEntry:
    id: int
    sender: str
    control_id: str
    message_type: str
    patient_key: str | None
    status: str
    ack_code: str | None
    error_id: str | None
    error: str | None
    attempts: int
    raw: bytes
    received_at: datetime
    movement_at: datetime | None = None


_ENTRY_FIELDS = tuple(InboxEntry.__dataclass_fields__)
_TABLE = cast(Table, InboundMessage.__table__)

# Statements built once (building one costs more than running it): a new message or nothing
# when its (sender, control id) is already there; the settlement of a message.
_INSERT = {
    name: insert(_TABLE)
    .on_conflict_do_nothing(index_elements=["sender", "control_id"])
    .returning(_TABLE.c.id, _TABLE.c.sender, _TABLE.c.control_id)
    for name, insert in (("postgresql", pg_insert), ("sqlite", sqlite_insert))
}
_SETTLE = (
    update(_TABLE)
    .where(_TABLE.c.id == bindparam("message_id"), _TABLE.c.status != APPLIED)
    .values(
        status=bindparam("status"),
        ack_code=bindparam("ack_code"),
        error_id=bindparam("error_id"),
        error=bindparam("error"),
        processed_at=bindparam("processed_at"),
        attempts=_TABLE.c.attempts + 1,
    )
)


def _entry(row: InboundMessage) -> InboxEntry:
    return InboxEntry(
        id=row.id,
        sender=row.sender,
        control_id=row.control_id,
        message_type=row.message_type,
        patient_key=row.patient_key,
        status=row.status,
        ack_code=row.ack_code,
        error_id=row.error_id,
        error=row.error,
        attempts=row.attempts,
        raw=row.raw,
        received_at=row.received_at,
        movement_at=row.movement_at,
    )


@dataclass(frozen=True, kw_only=True)
class NewMessage:
    """A message as received, to persist. ``settled`` = (status, ACK code, error id, text)
    stores a message that needs no processing (rejected, ignored)."""

    raw: bytes
    sender: str
    control_id: str
    message_type: str
    charset: str
    patient_key: str | None
    received_at: datetime
    settled: tuple[str, str, str, str] | None = None
    movement_at: datetime | None = None

    def values(self) -> dict[str, Any]:
        """The row; keys (sender, control id, patient key) whole: the parser refuses any
        too long for its column, never cut here (two messages would become one)."""
        key = self.control_id or f"unparsed-{uuid.uuid4().hex}"
        settled = self.settled
        return {
            "sender": self.sender,
            "control_id": key,
            "message_type": self.message_type[:16],
            "received_at": self.received_at,
            "movement_at": self.movement_at,
            "raw": self.raw,
            "charset": self.charset[:32],
            "patient_key": self.patient_key,
            "status": settled[0] if settled else RECEIVED,
            "ack_code": settled[1] if settled else None,
            "error_id": settled[2][:64] if settled else None,
            "error": settled[3] if settled else None,
            "processed_at": self.received_at if settled else None,
            "attempts": 0,
        }


async def persist(db: Database, **message: Any) -> tuple[InboxEntry, bool]:
    """Store one message (the fields of :class:`NewMessage`): ``(entry, True)`` when new,
    ``(existing, False)`` for a duplicate (same sender and control id)."""
    [result] = await persist_many(db, [NewMessage(**message)])
    return result


async def persist_many(db: Database, messages: list[NewMessage]) -> list[tuple[InboxEntry, bool]]:
    """Store messages in one autocommitted statement, durable before anything else happens to
    them; for each, ``(entry, True)`` when new or ``(existing, False)`` for a duplicate (same
    sender and control id, already stored or earlier in ``messages``)."""
    values = [message.values() for message in messages]
    async with db.autocommit() as conn:
        rows = (await conn.execute(_INSERT[db.dialect], values)).all()
    new_ids = {(row.sender, row.control_id): row.id for row in rows}
    results: list[tuple[InboxEntry, bool]] = []
    for value in values:
        key = (value["sender"], value["control_id"])
        new_id = new_ids.pop(key, None)
        if new_id is not None:
            fields = {f: value[f] for f in _ENTRY_FIELDS if f != "id"}
            results.append((InboxEntry(id=new_id, **fields), True))
        else:
            results.append((await _stored(db, *key), False))
    return results


@asynccontextmanager
async def reading(db: Database) -> AsyncIterator[AsyncSession]:
    """A session for reads; a database that cannot serve is :class:`StorageError`
    ``db.unavailable`` (as for writes), so the listener sends no ACK and the sender retries."""
    try:
        async with db.sessions() as s:
            yield s
    except DBAPIError as exc:
        if is_unavailable(exc):
            raise StorageError("db.unavailable", "the database is unreachable") from exc
        raise
    except OSError as exc:
        raise StorageError("db.unavailable", "the database is unreachable") from exc


async def _stored(db: Database, sender: str, control_id: str) -> InboxEntry:
    async with reading(db) as s:
        existing = (
            await s.scalars(
                select(InboundMessage).where(
                    InboundMessage.sender == sender, InboundMessage.control_id == control_id
                )
            )
        ).one()
        return _entry(existing)


async def get(db: Database, message_id: int) -> InboxEntry | None:
    async with reading(db) as s:
        row = await s.get(InboundMessage, message_id)
        return _entry(row) if row else None


async def due_with(db: Database, patient_key: str | None, message_id: int) -> list[InboxEntry]:
    """The message ``message_id`` (any status) preceded by the received, unprocessed
    messages of the same patient persisted before it, oldest first (one query)."""
    query = select(InboundMessage)
    if patient_key:
        query = query.where(
            (InboundMessage.id == message_id)
            | (
                (InboundMessage.patient_key == patient_key)
                & (InboundMessage.status == RECEIVED)
                & (InboundMessage.id < message_id)
            )
        )
    else:
        query = query.where(InboundMessage.id == message_id)
    async with reading(db) as s:
        rows = await s.scalars(query.order_by(InboundMessage.id))
        return [_entry(r) for r in rows]


async def pending(db: Database) -> list[tuple[int, str | None]]:
    """Every received, unprocessed message (id, patient key), oldest first."""
    async with reading(db) as s:
        rows = await s.execute(
            select(InboundMessage.id, InboundMessage.patient_key)
            .where(InboundMessage.status == RECEIVED)
            .order_by(InboundMessage.id)
        )
        return [(r[0], r[1]) for r in rows]


async def last_movement(db: Database, patient_key: str, before_id: int) -> datetime | None:
    """When the patient's last applied movement (before message ``before_id``) happened."""
    async with reading(db) as s:
        found: datetime | None = await s.scalar(
            select(InboundMessage.movement_at)
            .where(
                InboundMessage.patient_key == patient_key,
                InboundMessage.status == APPLIED,
                InboundMessage.id < before_id,
                InboundMessage.movement_at.is_not(None),
            )
            .order_by(InboundMessage.id.desc())
            .limit(1)
        )
        return found


async def set_movement_at(db: Database, message_id: int, at: datetime) -> None:
    """Record the instant chosen for a local time that happened twice."""
    async with db.autocommit() as conn:
        await conn.execute(update(_TABLE).where(_TABLE.c.id == message_id).values(movement_at=at))


async def settle(
    db: Database,
    message_id: int,
    *,
    status: str,
    ack_code: str,
    at: datetime,
    error_id: str | None = None,
    error: str | None = None,
) -> None:
    async with db.session() as s:
        await settle_in(
            s, message_id, status=status, ack_code=ack_code, at=at, error_id=error_id, error=error
        )


async def settle_in(
    s: AsyncSession,
    message_id: int,
    *,
    status: str,
    ack_code: str,
    at: datetime,
    error_id: str | None = None,
    error: str | None = None,
) -> None:
    """Settle a message inside the caller's transaction."""
    await s.execute(
        _SETTLE,
        {
            "message_id": message_id,
            "status": status,
            "ack_code": ack_code,
            "error_id": error_id[:64] if error_id else None,
            "error": error,
            "processed_at": at,
        },
    )


async def settle_applied_in(s: AsyncSession, message_ids: list[int], *, at: datetime) -> None:
    """Settle applied messages (AA) inside the caller's transaction, in one round trip."""
    if not message_ids:
        return
    await s.execute(
        _SETTLE,
        [
            {
                "message_id": message_id,
                "status": APPLIED,
                "ack_code": "AA",
                "error_id": None,
                "error": None,
                "processed_at": at,
            }
            for message_id in message_ids
        ],
    )


async def by_status(db: Database, status: str, limit: int = 100) -> list[InboxEntry]:
    """The newest messages in ``status`` (admin page: errors to replay)."""
    async with db.sessions() as s:
        rows = await s.scalars(
            select(InboundMessage)
            .where(InboundMessage.status == status)
            .order_by(InboundMessage.id.desc())
            .limit(limit)
        )
        return [_entry(r) for r in rows]
