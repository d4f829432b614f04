"""Who is signed in, with which roles and phone: kept in the session, held on the server
(:mod:`kiosk_ui.session_store`; the cookie carries only a random token).

Roles: ``nurse``, ``clinician``, ``switchboard``, ``admin`` (staff accounts),
``terminal`` (reserved for the bedside TV's credential) and ``guest`` (a video visit's guest,
after its link and phone code). Every route names the roles it admits; :func:`require` checks
them.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web
from aiohttp_session import get_session

from kiosk_ui.errors import forbidden_role, signed_out
from kiosk_ui.security import csrf_token
from kiosk_ui.session_store import USER_KEY, fresh_session
from wardline.domain.commands import Actor
from wardline.domain.staff import StaffView

ROLES = frozenset({"nurse", "clinician", "switchboard", "admin", "terminal", "guest"})
__all__ = ["USER_KEY", "SignedIn", "current_user", "open_session", "require"]


@dataclass(frozen=True)
class SignedIn:
    username: str
    display_name: str
    roles: frozenset[str]
    extension: str | None
    """The switchboard operator's phone, chosen at sign-in (or later)."""
    ward_code: str | None
    staff_id: int | None = None
    """The staff account (None for a terminal): its sessions end when it changes."""

    @property
    def actor(self) -> Actor:
        return Actor(name=self.username, roles=self.roles)

    def as_session(self) -> dict[str, object]:
        return {
            "username": self.username,
            "display_name": self.display_name,
            "roles": sorted(self.roles),
            "extension": self.extension,
            "ward_code": self.ward_code,
            "staff_id": self.staff_id,
        }

    @classmethod
    def from_session(cls, value: object) -> SignedIn | None:
        if not isinstance(value, dict):
            return None
        try:
            return cls(
                username=str(value["username"]),
                display_name=str(value["display_name"]),
                roles=frozenset(str(r) for r in value["roles"]) & ROLES,
                extension=value.get("extension"),
                ward_code=value.get("ward_code"),
                staff_id=value.get("staff_id"),
            )
        except (KeyError, TypeError):
            return None


async def current_user(request: web.Request) -> SignedIn | None:
    return SignedIn.from_session((await get_session(request)).get(USER_KEY))


async def require(request: web.Request, roles: tuple[str, ...]) -> SignedIn:
    """The signed-in user holding one of ``roles`` (an empty tuple: anyone signed in)."""
    user = await current_user(request)
    if user is None:
        raise signed_out()
    if roles and not user.roles & set(roles):
        raise forbidden_role(roles)
    return user


async def open_session(
    request: web.Request, staff: StaffView, extension: str | None, lang: str
) -> SignedIn:
    """A fresh session (new id, new CSRF token: no fixation) for the signed-in person."""
    user = SignedIn(
        username=staff.username,
        display_name=staff.display_name,
        roles=staff.roles & ROLES,
        extension=extension,
        ward_code=staff.ward_code,
        staff_id=staff.id,
    )
    session = await fresh_session(request)
    session[USER_KEY] = user.as_session()
    session["lang"] = lang
    csrf_token(session)
    return user


async def update_extension(request: web.Request, extension: str | None) -> SignedIn:
    session = await get_session(request)
    user = SignedIn.from_session(session.get(USER_KEY))
    if user is None:
        raise signed_out()
    session[USER_KEY] = {**user.as_session(), "extension": extension}
    changed = SignedIn.from_session(session[USER_KEY])
    assert changed is not None
    return changed
