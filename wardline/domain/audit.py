"""The audit log: append-only and chained under a key.

Each row holds the hash of its predecessor and its own hash: HMAC-SHA256, under a key from the
settings that the database never holds, of the predecessor's hash, its sequence number and
the digest of its canonical content, so editing or deleting a row breaks the chain at that
row and nobody without the key can compute a new one (rows before ``audit_head.keyed_from``,
written before the chain was keyed, keep their plain SHA-256 link). The head is also
checkpointed outside the database (:mod:`wardline.domain.audit_checkpoints`), so a chain
truncated and restarted, or cut at its end with the head moved back, is detected too.

Rows are written in the caller's transaction: an audited change and its audit row commit or
fail together. Appends are serialised on the chain head (one row, locked by the append until
its transaction ends; the single writer on SQLite) so concurrent writers never fork the
chain, and the head tells when rows were deleted at the end. The database refuses UPDATE and
DELETE by trigger, and the service's own database role may only INSERT and SELECT the rows
(``wardline db grant``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from wardline.db.base import utcnow
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


def legacy_link_hash(prev_hash: str, seq: int, digest: str) -> str:
    """The unkeyed link of rows written before the chain was keyed (before ``keyed_from``)."""
    return hashlib.sha256(f"{prev_hash}:{seq}:{digest}".encode()).hexdigest()


def link_hash(key: bytes, prev_hash: str, seq: int, digest: str) -> str:
    """A row's hash: HMAC-SHA256, under a key the database never holds, of its predecessor's
    hash, its position and its content digest. Without the key nobody can recompute a chain."""
    return hmac.new(key, f"{prev_hash}:{seq}:{digest}".encode(), hashlib.sha256).hexdigest()


DEVELOPMENT_KEY = b"wardline-development-audit-key-0"
"""The key of an :class:`AuditLog` built without one (tests, tools); the service and the
command line always pass the key of their settings, so a row chained under this key fails
their verification loudly."""


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
    """Append rows kept by :func:`deferred_rows`, in order, in the caller's transaction: the
    head is locked and moved once, the rows inserted in one round trip."""
    if rows:
        await _append(session, rows)


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
    def __init__(
        self, clock: Callable[[], datetime] = utcnow, key: bytes = DEVELOPMENT_KEY
    ) -> None:
        self.clock, self.key = clock, key

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
        row = {**content, "digest": body_digest(**content), "key": self.key}
        deferred = _DEFERRED.get()
        if deferred is not None:
            deferred.append(row)
            return None
        return await _append(session, [row])


async def _append(session: AsyncSession, rows: list[dict[str, Any]]) -> AuditEntry:
    """Lock the head (concurrent writers queue on its row until this transaction ends), link
    the rows here, where the key is, then insert them and move the head."""
    head = (
        await session.execute(
            select(_HEAD.c.seq, _HEAD.c.hash).where(_HEAD.c.id == 1).with_for_update()
        )
    ).first()
    if head is None:
        raise _no_head()
    seq, prev = head[0], head[1]
    linked: list[dict[str, Any]] = []
    for row in rows:
        seq += 1
        digest, key = row["digest"], row["key"]
        content = {k: v for k, v in row.items() if k not in ("digest", "key")}
        current = link_hash(key, prev, seq, digest)
        linked.append({**content, "seq": seq, "prev_hash": prev, "hash": current})
        prev_of_last, prev = prev, current
    await session.execute(insert(AuditEvent), linked)
    await session.execute(_MOVE_HEAD, {"p_seq": seq, "p_prev": prev_of_last, "p_hash": prev})
    return AuditEntry(seq=seq, hash=prev)


async def verify_chain(
    db: Database,
    key: bytes = DEVELOPMENT_KEY,
    checkpoints: Mapping[int, str] | None = None,
    batch: int = 1000,
) -> ChainReport:
    """Walk the chain in order; report the first row whose link or content is broken, or
    that differs from a checkpoint taken outside the database (``checkpoints``: position to
    hash), and a chain that ends before a checkpoint (rows deleted or truncated)."""
    expected = dict(checkpoints or {})
    expected_prev = GENESIS
    expected_seq = 1
    count = 0
    async with db.sessions() as session:
        keyed_from = await session.scalar(select(_HEAD.c.keyed_from).where(_HEAD.c.id == 1))
        if keyed_from is None:
            return ChainReport(0, False, None, "the chain head is missing")
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
                return await _check_end(session, count, expected_prev, expected)
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
                if row.seq < keyed_from:
                    actual = legacy_link_hash(row.prev_hash, row.seq, digest)
                else:
                    actual = link_hash(key, row.prev_hash, row.seq, digest)
                if actual != row.hash:
                    return ChainReport(count, False, row.seq, "content altered")
                if expected.get(row.seq, row.hash) != row.hash:
                    return ChainReport(
                        count, False, row.seq, "row differs from its checkpoint (rewritten)"
                    )
                expected_prev = row.hash
                expected_seq += 1
                count += 1
            after = rows[-1].seq


async def _check_end(
    session: AsyncSession, count: int, last_hash: str, checkpoints: Mapping[int, str]
) -> ChainReport:
    """The chain ends where its head and every checkpoint say: rows deleted at the end leave
    the head (or, when the head was reset too, a checkpoint) ahead of the last row."""
    if checkpoints and max(checkpoints) > count:
        return ChainReport(
            count,
            False,
            count + 1,
            f"rows missing at the end: a checkpoint saw row {max(checkpoints)} (deleted)",
        )
    head = (await session.execute(select(_HEAD.c.seq, _HEAD.c.hash))).first()
    if head is None:
        return ChainReport(count, False, None, "the chain head is missing")
    if head[0] > count:
        return ChainReport(count, False, count + 1, "rows missing at the end (deleted)")
    if head[0] < count or head[1] != last_hash:
        return ChainReport(count, False, head[0], "the chain head does not match the last row")
    return ChainReport(rows=count, ok=True)
