"""Units of work of the domain services: their own transaction, or the caller's.

A service command runs in ``unit(db)``: its own transaction by default, or the transaction a
caller opened with :func:`borrowing` (the ADT inbox settles its message in the same one).
Unique-constraint failures of a race become a typed :class:`Conflict`. Events of a command run
in a borrowed transaction are collected for the caller to publish after its commit.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from wardline.db.engine import Database
from wardline.domain.errors import Conflict
from wardline.domain.events import DomainEvent

_OUTER: ContextVar[AsyncSession | None] = ContextVar("stays_outer_session", default=None)
_PENDING: ContextVar[list[DomainEvent] | None] = ContextVar("stays_pending", default=None)


class _Borrowed:
    """The caller's transaction: flushed at the end of the command, committed by the caller."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def __aenter__(self) -> AsyncSession:
        return self._session

    async def __aexit__(self, et: Any, exc: Any, tb: Any) -> bool:
        if exc is None:
            await self._session.flush()
        return False


class _IntegrityAsConflict:
    """A unit of work whose unique-constraint failures (a race) become a typed conflict."""

    def __init__(self, db: Database) -> None:
        self._cm = db.session()

    async def __aenter__(self) -> AsyncSession:
        return await self._cm.__aenter__()

    async def __aexit__(self, et: Any, exc: Any, tb: Any) -> bool:
        try:
            await self._cm.__aexit__(et, exc, tb)
        except IntegrityError as err:
            raise conflict_of(err) from err
        if isinstance(exc, IntegrityError):
            raise conflict_of(exc) from exc
        return False


def conflict_of(err: IntegrityError) -> Conflict:
    text = str(err.orig)
    if "uq_stays_active_bed" in text:
        return Conflict("bed.occupied", "the bed already has an active stay (concurrent change)")
    if "uq_stays_active_patient" in text:
        return Conflict(
            "patient.already_admitted", "the patient already has an active stay (concurrent change)"
        )
    return Conflict("stay.concurrent_change", "a concurrent change won")


def unit(db: Database) -> Any:
    """The unit of work of one command (an async context manager yielding the session)."""
    outer = _OUTER.get()
    if outer is not None:
        return _Borrowed(outer)
    return _IntegrityAsConflict(db)


def pending_events() -> list[DomainEvent] | None:
    """Where a command run in a borrowed transaction leaves its events (None: publish now)."""
    return _PENDING.get()


@contextmanager
def borrowing(session: AsyncSession, events: list[DomainEvent]) -> Iterator[None]:
    outer, pending = _OUTER.set(session), _PENDING.set(events)
    try:
        yield
    except IntegrityError as err:
        raise conflict_of(err) from err
    finally:
        _OUTER.reset(outer)
        _PENDING.reset(pending)
