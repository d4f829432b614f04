"""The nurse's session at the bed, held by the server (table ``bedside_nurse_sessions``).

A nurse signs in on the TV's own session with badge and PIN; the server keeps one row per
terminal and the TV's cookie only a random token for it. Her session ends, on the server, when:

- she signs out, or leaves the staff view (Back, Home, the patient's tiles): the page says so;
- the patient's side of the TV is used at all (its page loaded again, any patient API called):
  whatever the page did or did not say, the patient never works on a nurse's session;
- nothing came from her for ``Settings.nurse_idle_signout_seconds``;
- the next badge signs in at the same terminal.

Deleting the row ends it for every copy of the cookie. Each start and end is an audit row.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from aiohttp import web
from aiohttp_session import get_session
from sqlalchemy import delete

from kiosk_ui.models import BedsideNurseSession
from kiosk_ui.terminal_auth import TerminalPlace, require_terminal
from wardline import appkeys as k
from wardline.domain.commands import Actor
from wardline.domain.errors import PermissionDenied
from wardline.domain.staff import StaffView

NURSE_KEY = "bedside_nurse"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def nurse_signed_out(reason: str = "signed_out") -> PermissionDenied:
    return PermissionDenied(
        "bedside.nurse_signed_out", "tap your badge and type your PIN", reason=reason
    )


async def end_nurse_session(request: web.Request, place: TerminalPlace, by: str) -> bool:
    """End the nurse's session at this terminal, if any, audited with how it ended (one
    transaction)."""
    (await get_session(request)).pop(NURSE_KEY, None)
    db = request.app[k.DATABASE]
    async with db.sessions() as s:  # a read first: most of the patient's requests find no one
        if await s.get(BedsideNurseSession, place.terminal_id) is None:
            return False
    action = "bedside.nurse_idle_signout" if by == "idle" else "bedside.nurse_signout"
    async with db.session() as s:
        ended = (
            await s.execute(
                delete(BedsideNurseSession)
                .where(BedsideNurseSession.terminal_id == place.terminal_id)
                .returning(BedsideNurseSession.username)
            )
        ).scalar_one_or_none()
        if ended is None:
            return False
        await request.app[k.AUDIT].record(s, ended, action, "bed", place.bed_label, {"by": by})
    return True


async def patient_side(request: web.Request, by: str = "patient") -> TerminalPlace:
    """The terminal, for the patient's side of the TV: a nurse still signed in is signed out."""
    place = await require_terminal(request)
    await end_nurse_session(request, place, by)
    return place


async def open_nurse_session(request: web.Request, place: TerminalPlace, staff: StaffView) -> None:
    now = request.app[k.CLOCK]()
    token = secrets.token_urlsafe(32)
    async with request.app[k.DATABASE].session() as s:
        await s.execute(
            delete(BedsideNurseSession).where(BedsideNurseSession.terminal_id == place.terminal_id)
        )
        s.add(
            BedsideNurseSession(
                terminal_id=place.terminal_id,
                token_hash=_digest(token),
                username=staff.username,
                display_name=staff.display_name,
                rpps=staff.rpps,
                started_at=now,
                last_input_at=now,
            )
        )
        await request.app[k.AUDIT].record(
            s, staff.username, "bedside.nurse_signin", "bed", place.bed_label, {}
        )
    (await get_session(request))[NURSE_KEY] = token


async def signed_in_nurse(request: web.Request) -> tuple[TerminalPlace, Actor]:
    """The nurse signed in at this terminal with this session's token, not idle for too long.

    Each call counts as her input (the idle time starts again)."""
    place = await require_terminal(request)
    token = (await get_session(request)).get(NURSE_KEY)
    if not isinstance(token, str):
        raise nurse_signed_out()
    now: datetime = request.app[k.CLOCK]()
    idle = timedelta(seconds=request.app[k.SETTINGS].nurse_idle_signout_seconds)
    async with request.app[k.DATABASE].session() as s:
        row = await s.get(BedsideNurseSession, place.terminal_id, with_for_update=True)
        mine = row is not None and hmac.compare_digest(row.token_hash, _digest(token))
        if row is not None and mine and now - row.last_input_at <= idle:
            row.last_input_at = now
            return place, Actor(
                name=row.username,
                roles=frozenset({"nurse"}),
                display_name=row.display_name,
                rpps=row.rpps,
            )
        if row is not None and mine:  # hers, idle for too long: ended here, under its lock
            await s.delete(row)
            action, by = "bedside.nurse_idle_signout", {"by": "idle"}
            await request.app[k.AUDIT].record(s, row.username, action, "bed", place.bed_label, by)
    (await get_session(request)).pop(NURSE_KEY, None)
    raise nurse_signed_out("idle" if mine else "signed_out")
