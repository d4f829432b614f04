"""The audit log: append-only and hash-chained.

Each row holds the hash of its predecessor and its own hash: SHA-256 of the predecessor's
hash, its sequence number and the digest of its canonical content, so editing or deleting a
row breaks the chain at that row. Rows are written in the caller's
transaction: an audited change and its audit row commit or fail together. Appends are
serialised (a transaction-scoped advisory lock on PostgreSQL; the single writer on SQLite) so
concurrent writers never fork the chain. The database refuses UPDATE and DELETE by trigger.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, bindparam, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from wardline.db.base import UTCDateTime, utcnow
from wardline.db.engine import Database
from wardline.db.models import AuditEvent

GENESIS = "0" * 64
_PG_LOCK_KEY = 727_000_001


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


def content_hash(
    *,
    seq: int,
    at: datetime,
    actor: str,
    action: str,
    subject_type: str,
    subject_id: str,
    details: dict[str, Any],
    prev_hash: str,
) -> str:
    digest = body_digest(
        at=at,
        actor=actor,
        action=action,
        subject_type=subject_type,
        subject_id=subject_id,
        details=details,
    )
    return link_hash(prev_hash, seq, digest)


# PostgreSQL appends in one statement: the link to the last row and the row's hash (the
# same formula as :func:`link_hash`) are computed by the server, under the advisory lock.
_APPEND_PG = text(
    """
WITH last AS (SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1),
     link AS (SELECT COALESCE((SELECT seq FROM last), 0) + 1 AS seq,
                     COALESCE((SELECT hash FROM last), CAST(:genesis AS VARCHAR)) AS prev)
INSERT INTO audit_events
    (seq, at, actor, action, subject_type, subject_id, details, prev_hash, hash)
SELECT link.seq, CAST(:at AS TIMESTAMP WITH TIME ZONE), CAST(:actor AS VARCHAR),
       CAST(:action AS VARCHAR), CAST(:subject_type AS VARCHAR), CAST(:subject_id AS VARCHAR),
       CAST(:details AS JSON), link.prev,
       encode(sha256(convert_to(
           link.prev || ':' || link.seq::text || ':' || CAST(:digest AS VARCHAR), 'UTF8'
       )), 'hex')
FROM link
RETURNING seq, hash
"""
).bindparams(bindparam("at", type_=UTCDateTime()), bindparam("details", type_=JSON))


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
    ) -> AuditEntry:
        """Append one row in the caller's transaction."""
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
        digest = body_digest(**content)
        if session.get_bind().dialect.name == "postgresql":
            await session.execute(text(f"SELECT pg_advisory_xact_lock({_PG_LOCK_KEY})"))
            row = (
                await session.execute(_APPEND_PG, {**content, "digest": digest, "genesis": GENESIS})
            ).one()
            return AuditEntry(seq=row[0], hash=row[1])
        # SQLite: one writer at a time already; the link is computed here.
        last = (
            await session.execute(
                select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)
            )
        ).first()
        seq = (last[0] + 1) if last else 1
        prev = last[1] if last else GENESIS
        entry = AuditEntry(seq=seq, hash=link_hash(prev, seq, digest))
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
                return ChainReport(rows=count, ok=True)
            for row in rows:
                if row.seq != expected_seq:
                    return ChainReport(count, False, expected_seq, "row missing (deleted)")
                if row.prev_hash != expected_prev:
                    return ChainReport(count, False, row.seq, "link to predecessor broken")
                actual = content_hash(
                    seq=row.seq,
                    at=row.at,
                    actor=row.actor,
                    action=row.action,
                    subject_type=row.subject_type,
                    subject_id=row.subject_id,
                    details=row.details,
                    prev_hash=row.prev_hash,
                )
                if actual != row.hash:
                    return ChainReport(count, False, row.seq, "content altered")
                expected_prev = row.hash
                expected_seq += 1
                count += 1
            after = rows[-1].seq
