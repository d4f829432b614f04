"""The audit log: append-only and hash-chained.

Each row holds the hash of its predecessor and its own hash: SHA-256 of the predecessor's
hash, its sequence number and the digest of its canonical content, so editing or deleting a
row breaks the chain at that row. Rows are written in the caller's
transaction: an audited change and its audit row commit or fail together. Appends are
serialised on the chain head (one row, locked by the append until its transaction ends; the
single writer on SQLite) so concurrent writers never fork the chain, and the head tells when
rows were deleted at the end. The database refuses UPDATE and DELETE by trigger.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import JSON, Table, bindparam, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from wardline.db.base import UTCDateTime, utcnow
from wardline.db.engine import Database
from wardline.db.models import AuditEvent, AuditHead
from wardline.errors import StorageError

GENESIS = "0" * 64


def _canonical(value: Any) -> Any:
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def body_digest(
    *,
    at: datetime,
    actor: str,
    action: str,
    subject_type: str,
    subject_id: str,
    details: dict[str, Any],
) -> str:
    """SHA-256 of a row's own content (canonical JSON)."""
    body = {
        "at": at.isoformat(),
        "actor": actor,
        "action": action,
        "subject_type": subject_type,
        "subject_id": subject_id,
        "details": details,
    }
    raw = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(raw.encode()).hexdigest()


def link_hash(prev_hash: str, seq: int, digest: str) -> str:
    """A row's hash: its predecessor's hash, its position and its content digest."""
    return hashlib.sha256(f"{prev_hash}:{seq}:{digest}".encode()).hexdigest()


# PostgreSQL appends in one statement: moving the chain head (under its row lock, which
# queues concurrent writers until the holder commits) computes the new row's link and hash,
# with the same formula as :func:`link_hash`; the row is inserted from the moved head.
_APPEND_SQL = """
WITH head AS (
    UPDATE audit_head
       SET prev_hash = hash,
           seq = seq + 1,
           hash = encode(sha256(convert_to(
               hash || ':' || (seq + 1)::text || ':' || CAST(:digest AS VARCHAR), 'UTF8'
           )), 'hex')
     WHERE id = 1
 RETURNING seq, prev_hash, hash
)
INSERT INTO audit_events
    (seq, at, actor, action, subject_type, subject_id, details, prev_hash, hash)
SELECT head.seq, CAST(:at AS TIMESTAMP WITH TIME ZONE), CAST(:actor AS VARCHAR),
       CAST(:action AS VARCHAR), CAST(:subject_type AS VARCHAR), CAST(:subject_id AS VARCHAR),
       CAST(:details AS JSON), head.prev_hash, head.hash
FROM head
"""
_TYPED = (bindparam("at", type_=UTCDateTime()), bindparam("details", type_=JSON))
_APPEND_PG = text(_APPEND_SQL + "RETURNING seq, hash").bindparams(*_TYPED)
# The same append without RETURNING, run for many rows in one round trip (executemany): each
# execution moves the head, so the rows chain in the order given.
_APPEND_PG_MANY = text(_APPEND_SQL).bindparams(*_TYPED)
_HEAD = cast(Table, AuditHead.__table__)
_DEFERRED: ContextVar[list[dict[str, Any]] | None] = ContextVar("audit_deferred", default=None)


@contextmanager
def deferred_rows() -> Iterator[list[dict[str, Any]]]:
    """Rows recorded inside the block are kept, in order, instead of written: the caller
    appends them with :func:`append_rows` in the same transaction (a batch of ADT messages
    appends its rows in one round trip and holds the chain head only at the end)."""
    rows: list[dict[str, Any]] = []
    token = _DEFERRED.set(rows)
    try:
        yield rows
    finally:
        _DEFERRED.reset(token)


async def append_rows(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Append rows kept by :func:`deferred_rows`, in order, in the caller's transaction."""
    if not rows:
        return
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(_APPEND_PG_MANY, rows)
        return
    for row in rows:
        await _append_sqlite(session, row)


_MOVE_HEAD = (
    update(_HEAD)
    .where(_HEAD.c.id == 1)
    .values(seq=bindparam("p_seq"), prev_hash=bindparam("p_prev"), hash=bindparam("p_hash"))
)


def _no_head() -> StorageError:
    return StorageError(
        "audit.no_head", "the audit chain has no head row: run `wardline db upgrade`"
    )


@dataclass(frozen=True)
class ChainReport:
    rows: int
    ok: bool
    broken_at: int | None = None
    reason: str | None = None


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    hash: str


class AuditLog:
    def __init__(self, clock: Callable[[], datetime] = utcnow) -> None:
        self.clock = clock

    async def record(
        self,
        session: AsyncSession,
        actor: str,
        action: str,
        subject_type: str,
        subject_id: str | int,
        details: dict[str, Any] | None = None,
    ) -> AuditEntry | None:
        """Append one row in the caller's transaction (None: kept by :func:`deferred_rows`)."""
        at = self.clock()
        clean = _canonical(details or {})
        content = {
            "at": at,
            "actor": actor,
            "action": action,
            "subject_type": subject_type,
            "subject_id": str(subject_id),
            "details": clean,
        }
        row = {**content, "digest": body_digest(**content)}
        deferred = _DEFERRED.get()
        if deferred is not None:
            deferred.append(row)
            return None
        if session.get_bind().dialect.name == "postgresql":
            appended = (await session.execute(_APPEND_PG, row)).first()
            if appended is None:
                raise _no_head()
            return AuditEntry(seq=appended[0], hash=appended[1])
        return await _append_sqlite(session, row)


async def _append_sqlite(session: AsyncSession, row: dict[str, Any]) -> AuditEntry:
    """SQLite has one writer at a time: the link is computed here."""
    head = (await session.execute(select(_HEAD.c.seq, _HEAD.c.hash))).first()
    if head is None:
        raise _no_head()
    seq, prev = head[0] + 1, head[1]
    entry = AuditEntry(seq=seq, hash=link_hash(prev, seq, row["digest"]))
    await session.execute(_MOVE_HEAD, {"p_seq": seq, "p_prev": prev, "p_hash": entry.hash})
    content = {k: v for k, v in row.items() if k != "digest"}
    await session.execute(
        insert(AuditEvent).values(**content, seq=seq, prev_hash=prev, hash=entry.hash)
    )
    return entry


async def verify_chain(db: Database, batch: int = 1000) -> ChainReport:
    """Walk the chain in order; report the first row whose link or content is broken."""
    expected_prev = GENESIS
    expected_seq = 1
    count = 0
    async with db.sessions() as session:
        after = 0
        while True:
            rows = (
                await session.scalars(
                    select(AuditEvent)
                    .where(AuditEvent.seq > after)
                    .order_by(AuditEvent.seq)
                    .limit(batch)
                )
            ).all()
            if not rows:
                return await _check_head(session, count, expected_prev)
            for row in rows:
                if row.seq != expected_seq:
                    return ChainReport(count, False, expected_seq, "row missing (deleted)")
                if row.prev_hash != expected_prev:
                    return ChainReport(count, False, row.seq, "link to predecessor broken")
                digest = body_digest(
                    at=row.at,
                    actor=row.actor,
                    action=row.action,
                    subject_type=row.subject_type,
                    subject_id=row.subject_id,
                    details=row.details,
                )
                actual = link_hash(row.prev_hash, row.seq, digest)
                if actual != row.hash:
                    return ChainReport(count, False, row.seq, "content altered")
                expected_prev = row.hash
                expected_seq += 1
                count += 1
            after = rows[-1].seq


async def _check_head(session: AsyncSession, count: int, last_hash: str) -> ChainReport:
    """The chain ends where its head says: rows deleted at the end leave the head ahead."""
    head = (await session.execute(select(_HEAD.c.seq, _HEAD.c.hash))).first()
    if head is None:
        return ChainReport(count, False, None, "the chain head is missing")
    if head[0] > count:
        return ChainReport(count, False, count + 1, "rows missing at the end (deleted)")
    if head[0] < count or head[1] != last_hash:
        return ChainReport(count, False, head[0], "the chain head does not match the last row")
    return ChainReport(rows=count, ok=True)
