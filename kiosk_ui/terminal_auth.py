"""The TV's identity: a per-terminal secret (only its SHA-256 is stored in
``terminals.credential_hash``) exchanged once at ``/tv/enroll`` for a session with role
``terminal`` bound to that terminal and its bed. The secret is long and random, so a plain
deterministic hash lets us look the terminal up without storing the secret itself.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from aiohttp import web
from aiohttp_session import get_session
from sqlalchemy import delete, select

from kiosk_ui.auth import USER_KEY, SignedIn, require
from kiosk_ui.errors import WebError
from kiosk_ui.models import WebSession
from kiosk_ui.security import client_address, csrf_token
from kiosk_ui.session_store import TERMINAL_KEY, fresh_session
from kiosk_ui.state import WEB
from wardline import appkeys as k
from wardline.db.engine import Database
from wardline.db.models import Bed, Room, Terminal, Ward
from wardline.domain.audit import AuditLog
from wardline.domain.commands import Actor
from wardline.domain.errors import NotFound

ADMIN_CLI = Actor(name="admin.cli", roles=frozenset({"admin"}))


def credential_hash(secret: str) -> str:
    return hashlib.sha256(secret.strip().encode()).hexdigest()


@dataclass(frozen=True)
class TerminalPlace:
    terminal_id: str
    bed_label: str
    extension: str
    room: str
    ward_code: str


async def issue_credential(
    db: Database, terminal_id: str, actor: Actor = ADMIN_CLI, audit: AuditLog | None = None
) -> str:
    """A new secret for the terminal (the previous one stops working); audited."""
    secret = secrets.token_urlsafe(32)
    async with db.session() as s:
        terminal = await s.get(Terminal, terminal_id)
        if terminal is None:
            raise NotFound("terminal.unknown", f"no terminal {terminal_id}", terminal=terminal_id)
        terminal.credential_hash = credential_hash(secret)
        # the sessions opened with the previous secret end with it
        await s.execute(delete(WebSession).where(WebSession.terminal_id == terminal_id))
        await (audit or AuditLog()).record(
            s, actor.name, "terminal.credential", "terminal", terminal_id, {}
        )
    return secret


async def place_of(db: Database, terminal_id: str) -> TerminalPlace | None:
    async with db.sessions() as s:
        row = (
            await s.execute(
                select(Terminal.id, Bed.label, Bed.extension, Room.code, Ward.code)
                .join(Bed, Terminal.bed_id == Bed.id)
                .join(Room, Bed.room_id == Room.id)
                .join(Ward, Room.ward_id == Ward.id)
                .where(Terminal.id == terminal_id)
            )
        ).first()
    return None if row is None else TerminalPlace(*row)


async def terminal_for(db: Database, secret: str) -> TerminalPlace:
    async with db.sessions() as s:
        terminal_id = (
            await s.scalars(
                select(Terminal.id).where(Terminal.credential_hash == credential_hash(secret))
            )
        ).first()
    place = None if terminal_id is None or not secret.strip() else await place_of(db, terminal_id)
    if place is None:
        raise WebError("auth.failed", "unknown terminal credential")
    return place


async def enroll(request: web.Request, secret: str) -> TerminalPlace:
    """Exchange the credential for a fresh terminal session (rate limited like a sign-in)."""
    request.app[WEB].limiter.hit(client_address(request))
    place = await terminal_for(request.app[k.DATABASE], secret)
    user = SignedIn(
        username=f"terminal:{place.terminal_id}",
        display_name=place.bed_label,
        roles=frozenset({"terminal"}),
        extension=place.extension,
        ward_code=place.ward_code,
    )
    old = await get_session(request)
    lang = old.get("lang")
    session = await fresh_session(request)
    session[USER_KEY] = user.as_session()
    session[TERMINAL_KEY] = place.terminal_id
    if lang:
        session["lang"] = lang
    csrf_token(session)
    return place


async def require_terminal(request: web.Request) -> TerminalPlace:
    """The terminal of this session, re-read (a terminal moved to another bed follows it)."""
    await require(request, ("terminal",))
    terminal_id = (await get_session(request)).get(TERMINAL_KEY)
    place = None
    if isinstance(terminal_id, str):
        place = await place_of(request.app[k.DATABASE], terminal_id)
    if place is None:
        raise WebError("auth.required", "this terminal has no bed: enroll it again")
    return place
