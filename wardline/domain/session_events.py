"""Events of the staff and terminal web sessions (owned by the web edge)."""

from __future__ import annotations

from dataclasses import dataclass

from wardline.domain.events import DomainEvent


@dataclass(frozen=True, kw_only=True)
class SessionsEnded(DomainEvent):
    """Sessions ended (signed out, account changed or switched off, terminal re-enrolled):
    every instance closes their live sockets at once. ``session_ids`` are the sessions' row
    ids (the SHA-256 of their tokens), never the tokens."""

    session_ids: tuple[str, ...]
