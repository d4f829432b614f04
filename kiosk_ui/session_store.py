"""Sessions held on the server (table ``web_sessions``); the cookie carries only a random token.

- Signing out deletes the row: a replayed cookie finds nothing and is anonymous.
- A staff session ends at once when its account is switched off or its roles change: every
  load reads the account with the session (one round trip) and ends a session that no longer
  matches it.
- Staff and anonymous sessions expire after ``idle`` without a request and ``absolute`` after
  they opened, on the application's clock. A terminal's session (the TV) lives until its
  credential is issued again (:func:`kiosk_ui.terminal_auth.issue_credential` ends it).
- Signing in always starts a new session (:func:`fresh_session`): no fixation.

:class:`SessionStore` is the plain API (create / load / save / touch / end); :class:`ServerStorage`
plugs it into aiohttp-session, so handlers keep using ``get_session``.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from aiohttp import web
from aiohttp_session import AbstractStorage, Session, SessionData, get_session, new_session
from sqlalchemy import delete, or_, select, update

from kiosk_ui.models import WebSession
from wardline.db.engine import Database
from wardline.db.models import StaffUser

log = structlog.get_logger(__name__)

USER_KEY = "user"
TERMINAL_KEY = "terminal"
TERMINAL_COOKIE_AGE = 400 * 86400  # a kiosk browser keeps its session across restarts


def token_id(token: str) -> str:
    """The row's key: the token's SHA-256, so the table alone gives no usable cookie."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class StoredSession:
    data: dict[str, Any]
    created_at: datetime
    staff_user_id: int | None
    terminal_id: str | None


class SessionStore:
    """The server side of the sessions."""

    def __init__(
        self,
        db: Database,
        clock: Callable[[], datetime],
        idle: timedelta,
        absolute: timedelta,
        touch_every: timedelta = timedelta(seconds=60),
    ) -> None:
        self.db, self.clock = db, clock
        self.idle, self.absolute, self.touch_every = idle, absolute, touch_every
        self.on_end: Callable[[tuple[str, ...]], None] = lambda _ids: None
        """Told the ids of the sessions ended by :meth:`end` and its kin (not the purge of
        expired ones): the web edge publishes them so every instance closes their sockets."""

    async def create(
        self,
        data: dict[str, Any],
        *,
        staff_user_id: int | None = None,
        roles: Iterable[str] = (),
        terminal_id: str | None = None,
    ) -> str:
        """Open a session; returns its token (for the cookie, never stored)."""
        token = secrets.token_urlsafe(32)
        now = self.clock()
        async with self.db.session() as s:
            s.add(
                WebSession(
                    id=token_id(token),
                    staff_user_id=staff_user_id,
                    roles=",".join(sorted(roles)),
                    terminal_id=terminal_id,
                    data=data,
                    created_at=now,
                    last_seen_at=now,
                )
            )
        return token

    async def alive(self, token: str) -> bool:
        """Whether ``token``'s session still holds, without counting this as activity."""
        return await self.load(token, touch=False) is not None

    async def load(self, token: str, *, touch: bool = True) -> StoredSession | None:
        """The live session of ``token``, touched; None (and the row gone) when it ended."""
        key = token_id(token)
        async with self.db.sessions() as s:
            row = (
                await s.execute(
                    select(WebSession, StaffUser.active, StaffUser.roles)
                    .outerjoin(StaffUser, StaffUser.id == WebSession.staff_user_id)
                    .where(WebSession.id == key)
                )
            ).first()
        if row is None:
            return None
        stored, active, roles = row
        now = self.clock()
        reason = self._ended(stored, active, roles, now)
        if reason is not None:
            log.info("web.session_ended", reason=reason, staff_user_id=stored.staff_user_id)
            await self._delete(WebSession.id == key)
            return None
        if touch and now - stored.last_seen_at >= self.touch_every:
            await self.touch(token)
        return StoredSession(
            stored.data, stored.created_at, stored.staff_user_id, stored.terminal_id
        )

    def _ended(
        self, stored: WebSession, active: bool | None, roles: str | None, now: datetime
    ) -> str | None:
        if stored.staff_user_id is not None:
            if not active:
                return "account_inactive"
            if roles is None or _roles(roles) != _roles(stored.roles):
                return "roles_changed"
        if stored.terminal_id is None:
            if now - stored.last_seen_at > self.idle:
                return "idle"
            if now - stored.created_at > self.absolute:
                return "absolute"
        return None

    async def save(
        self,
        token: str,
        data: dict[str, Any],
        *,
        staff_user_id: int | None = None,
        roles: Iterable[str] = (),
        terminal_id: str | None = None,
    ) -> bool:
        """Write the session's data; False when it has ended meanwhile (never revived)."""
        async with self.db.session() as s:
            result = await s.execute(
                update(WebSession)
                .where(WebSession.id == token_id(token))
                .values(
                    data=data,
                    staff_user_id=staff_user_id,
                    roles=",".join(sorted(roles)),
                    terminal_id=terminal_id,
                    last_seen_at=self.clock(),
                )
            )
        return bool(getattr(result, "rowcount", 0))

    async def touch(self, token: str) -> None:
        """Mark the session used now (idle expiry counts from here)."""
        async with self.db.session() as s:
            await s.execute(
                update(WebSession)
                .where(WebSession.id == token_id(token))
                .values(last_seen_at=self.clock())
            )

    async def end(self, token: str) -> None:
        self._told(await self._delete(WebSession.id == token_id(token)))

    async def end_for_staff(self, staff_user_id: int) -> None:
        self._told(await self._delete(WebSession.staff_user_id == staff_user_id))

    async def end_for_terminal(self, terminal_id: str) -> None:
        self._told(await self._delete(WebSession.terminal_id == terminal_id))

    def _told(self, ids: tuple[str, ...]) -> None:
        if ids:
            self.on_end(ids)

    async def purge(self) -> None:
        """Delete staff and anonymous sessions past their expiry (the loads refuse them
        anyway; this keeps the table small)."""
        now = self.clock()
        await self._delete(
            WebSession.terminal_id.is_(None),
            or_(
                WebSession.last_seen_at < now - self.idle,
                WebSession.created_at < now - self.absolute,
            ),
        )

    async def _delete(self, *where: Any) -> tuple[str, ...]:
        async with self.db.session() as s:
            ids = await s.scalars(delete(WebSession).where(*where).returning(WebSession.id))
            return tuple(ids)


def _roles(value: str) -> frozenset[str]:
    return frozenset(r for r in value.split(",") if r)


def _owner(data: dict[str, Any]) -> dict[str, Any]:
    """Who the session belongs to, read from what the web edge keeps in it."""
    user = data.get(USER_KEY)
    staff_id = user.get("staff_id") if isinstance(user, dict) else None
    terminal = data.get(TERMINAL_KEY)
    return {
        "staff_user_id": staff_id if isinstance(staff_id, int) else None,
        "roles": user.get("roles", []) if isinstance(user, dict) and staff_id else [],
        "terminal_id": terminal if isinstance(terminal, str) else None,
    }


class ServerStorage(AbstractStorage):
    """aiohttp-session storage over :class:`SessionStore`: the cookie holds the token only."""

    def __init__(self, store: SessionStore, *, cookie_name: str, secure: bool) -> None:
        super().__init__(
            cookie_name=cookie_name,
            max_age=int(store.absolute.total_seconds()),
            secure=secure,
            httponly=True,
            samesite="Strict",
        )
        self.store = store

    async def load_session(self, request: web.Request) -> Session:
        token = self.load_cookie(request)
        stored = await self.store.load(token) if token else None
        if stored is None:
            return Session(None, data=None, new=True, max_age=None)
        data = SessionData(created=int(stored.created_at.timestamp()), session=stored.data)
        return Session(token, data=data, new=False, max_age=None)

    async def save_session(
        self, request: web.Request, response: web.StreamResponse, session: Session
    ) -> None:
        token = session.identity
        if session.empty:
            if token:
                await self.store.end(str(token))
            self.save_cookie(response, "")
            return
        data = dict(session)
        owner = _owner(data)
        age = TERMINAL_COOKIE_AGE if owner["terminal_id"] else self.max_age
        if token is None:
            token = await self.store.create(data, **owner)
        elif not await self.store.save(str(token), data, **owner):
            self.save_cookie(response, "")  # ended meanwhile (signed out elsewhere)
            return
        self.save_cookie(response, str(token), max_age=age)


async def fresh_session(request: web.Request) -> Session:
    """A new session (new token) in place of the request's, whose row is deleted: signing in
    never keeps an id chosen before (no fixation)."""
    old = await get_session(request)
    storage = request.get("aiohttp_session_storage")
    if old.identity and isinstance(storage, ServerStorage):
        await storage.store.end(str(old.identity))
    return await new_session(request)


def purger(
    store: SessionStore,
    on_check: Callable[[], Awaitable[object]] | None = None,
    every: float = 300.0,
    check_every: float = 10.0,
) -> Callable[[web.Application], Any]:
    """A cleanup context: ``on_check`` every ``check_every`` seconds (the live feed closes
    the sockets of ended sessions), expired sessions deleted every ``every`` seconds."""

    async def context(app: web.Application) -> AsyncIterator[None]:
        async def loop() -> None:
            last_purge = time.monotonic()
            while True:
                await asyncio.sleep(check_every)
                try:
                    if on_check is not None:
                        await on_check()
                    if time.monotonic() - last_purge >= every:
                        last_purge = time.monotonic()
                        await store.purge()
                except Exception:
                    log.exception("web.session_check_failed")

        task = asyncio.create_task(loop(), name="web-session-purge")
        yield
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    return context
