"""Checkpoints of the audit chain's head, kept outside the database.

The service appends a signed line (HMAC-SHA256 under the audit key) to a file named by the
settings, and logs the same position and hash, whenever the head has moved since its last
checkpoint. ``wardline audit verify`` reads them back: a chain rewritten from some row on (even
by someone who could recompute it), truncated and restarted, or cut at its end with the head
moved back no longer holds the rows the checkpoints saw. A line whose signature is wrong is
reported, never trusted.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import structlog
from sqlalchemy import select

from wardline.db.base import utcnow
from wardline.db.engine import Database
from wardline.db.models import AuditHead
from wardline.domain.audit import ChainReport, verify_chain

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    hash: str
    keyed_from: int
    at: str


def _mac(key: bytes, body: dict[str, object]) -> str:
    raw = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hmac.new(key, b"audit-checkpoint:" + raw.encode(), hashlib.sha256).hexdigest()


def signed_line(key: bytes, checkpoint: Checkpoint) -> str:
    body: dict[str, object] = {
        "seq": checkpoint.seq,
        "hash": checkpoint.hash,
        "keyed_from": checkpoint.keyed_from,
        "at": checkpoint.at,
    }
    return json.dumps({**body, "mac": _mac(key, body)}, sort_keys=True) + "\n"


def parse_lines(key: bytes, text: str) -> tuple[list[Checkpoint], list[int]]:
    """The checkpoints whose signature holds, and the numbers of the lines that do not."""
    good: list[Checkpoint] = []
    bad: list[int] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
            body = {k: value[k] for k in ("seq", "hash", "keyed_from", "at")}
            ok = hmac.compare_digest(str(value["mac"]), _mac(key, body))
            checkpoint = Checkpoint(
                int(body["seq"]), str(body["hash"]), int(body["keyed_from"]), str(body["at"])
            )
        except (ValueError, KeyError, TypeError):
            ok = False
        if ok:
            good.append(checkpoint)
        else:
            bad.append(number)
    return good, bad


def _append(path: Path, line: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(fd, line.encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def _read(path: Path) -> str:
    return path.read_text() if path.exists() else ""


async def read_head(db: Database) -> Checkpoint | None:
    async with db.sessions() as s:
        head = (
            await s.execute(
                select(AuditHead.seq, AuditHead.hash, AuditHead.keyed_from).where(AuditHead.id == 1)
            )
        ).first()
    return None if head is None else Checkpoint(head[0], head[1], head[2], "")


async def write_checkpoint(
    db: Database, key: bytes, path: Path, clock: Callable[[], datetime] = utcnow
) -> Checkpoint | None:
    """Append a signed checkpoint of the current head to ``path`` and log it."""
    head = await read_head(db)
    if head is None:
        return None
    checkpoint = Checkpoint(head.seq, head.hash, head.keyed_from, clock().isoformat())
    await asyncio.to_thread(_append, path, signed_line(key, checkpoint))
    log.info("audit.checkpoint", seq=checkpoint.seq, hash=checkpoint.hash)
    return checkpoint


async def verify(db: Database, key: bytes, path: Path | None) -> ChainReport:
    """The chain verified under ``key`` and against every checkpoint in ``path``."""
    checkpoints: list[Checkpoint] = []
    if path is not None:
        checkpoints, bad = parse_lines(key, await asyncio.to_thread(_read, path))
        if bad:
            return ChainReport(
                0, False, None, f"checkpoint file: line {bad[0]} is not signed with the key"
            )
    head = await read_head(db)
    if head is None:
        return ChainReport(0, False, None, "the chain head is missing")
    if any(c.keyed_from != head.keyed_from for c in checkpoints):
        return ChainReport(0, False, None, "the start of the keyed chain was moved")
    expected: dict[int, str] = {}
    for c in checkpoints:
        if expected.setdefault(c.seq, c.hash) != c.hash:
            return ChainReport(0, False, c.seq, "two checkpoints disagree on one row")
    expected.pop(0, None)  # the empty chain's genesis
    return await verify_chain(db, key, expected)


def checkpointer(
    db: Database, key: bytes, path: Path, every: float, clock: Callable[[], datetime] = utcnow
) -> Callable[[object], AsyncIterator[None]]:
    """A cleanup context: a checkpoint when the head moved, every ``every`` seconds and at
    shutdown."""

    async def context(_app: object) -> AsyncIterator[None]:
        last: list[int | None] = [None]

        async def once() -> None:
            head = await read_head(db)
            if head is not None and head.seq != last[0]:
                await write_checkpoint(db, key, path, clock)
                last[0] = head.seq

        async def loop() -> None:
            while True:
                try:
                    await once()
                except Exception:
                    log.exception("audit.checkpoint_failed")
                await asyncio.sleep(every)

        task = asyncio.create_task(loop(), name="audit-checkpoint")
        yield
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        try:
            await once()
        except Exception:
            log.exception("audit.checkpoint_failed")

    return context
