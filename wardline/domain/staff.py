"""Staff accounts: roles nurse / clinician / switchboard / admin, argon2 hashes of password and
PIN, and a keyed hash of the badge id (badges are looked up, so the hash must be deterministic).

Authentication answers a known and an unknown account alike (same error, and the same argon2
work: an unknown account is verified against a dummy hash) and never locks an account: the
web border slows repeated failures down instead (:mod:`kiosk_ui.throttle`). Argon2 runs in a
worker thread, never on the event loop."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select

from wardline.db.base import utcnow
from wardline.db.engine import Database
from wardline.db.models import StaffUser, Ward
from wardline.domain.audit import AuditLog
from wardline.domain.commands import Actor
from wardline.domain.errors import Conflict, InvalidInput, NotFound, PermissionDenied

ROLES = frozenset({"nurse", "clinician", "switchboard", "admin"})

_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verified instead of an unknown account's hash, so both cost the same work."""
    return _hasher.hash("no such account")


def hash_secret(secret: str) -> str:
    return _hasher.hash(secret)


def verify_secret(stored: str | None, given: str) -> bool:
    if not stored:
        return False
    try:
        return _hasher.verify(stored, given)
    except (VerificationError, InvalidHashError):
        return False


def badge_hash(badge_id: str, pepper: bytes = b"wardline-badge") -> str:
    """Deterministic keyed hash of a badge id (HMAC-SHA256), so the id itself is never stored."""
    return hmac.new(pepper, badge_id.strip().encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class StaffView:
    id: int
    username: str
    display_name: str
    roles: frozenset[str]
    ward_code: str | None
    language: str
    active: bool
    rpps: str | None = None
    """RPPS number (11 digits) of a health professional, when the account has one."""


def _view(u: StaffUser) -> StaffView:
    return StaffView(
        u.id, u.username, u.display_name, u.role_set, u.ward_code, u.language, u.active, u.rpps
    )


def check_rpps(rpps: str | None) -> str | None:
    """An RPPS number has 11 digits; spaces typed around or inside are dropped."""
    if rpps is None or not rpps.strip():
        return None
    digits = "".join(rpps.split())
    if not (digits.isdigit() and len(digits) == 11):
        raise InvalidInput("staff.rpps", "an RPPS number has 11 digits")
    return digits


class StaffDirectory:
    def __init__(
        self, db: Database, audit: AuditLog, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.db, self.audit, self.clock = db, audit, clock

    async def add_user(
        self,
        actor: Actor,
        *,
        username: str,
        display_name: str,
        roles: set[str],
        password: str,
        pin: str | None = None,
        badge: str | None = None,
        ward_code: str | None = None,
        language: str = "fr",
        rpps: str | None = None,
    ) -> StaffView:
        rpps = check_rpps(rpps)
        unknown = roles - ROLES
        if not roles or unknown:
            raise InvalidInput(
                "staff.roles",
                f"roles must be among {', '.join(sorted(ROLES))}",
                roles=sorted(roles),
            )
        if len(password) < 8:
            raise InvalidInput("staff.password", "a password has at least 8 characters")
        if pin is not None and not (pin.isdigit() and 4 <= len(pin) <= 8):
            raise InvalidInput("staff.pin", "a PIN has 4 to 8 digits")
        password_hash = await asyncio.to_thread(hash_secret, password)
        pin_hash = await asyncio.to_thread(hash_secret, pin) if pin else None
        async with self.db.session() as s:
            if (await s.scalars(select(StaffUser).where(StaffUser.username == username))).first():
                raise Conflict("staff.exists", f"user {username} already exists", username=username)
            if (
                ward_code is not None
                and (await s.scalars(select(Ward.code).where(Ward.code == ward_code))).first()
                is None
            ):
                raise InvalidInput(
                    "staff.ward_unknown", f"no ward {ward_code} in the inventory", ward=ward_code
                )
            bh = badge_hash(badge) if badge else None
            if (
                bh
                and (await s.scalars(select(StaffUser).where(StaffUser.badge_hash == bh))).first()
            ):
                raise Conflict("staff.badge_taken", "this badge belongs to another user")
            if rpps and (await s.scalars(select(StaffUser).where(StaffUser.rpps == rpps))).first():
                raise Conflict("staff.rpps_taken", "this RPPS number belongs to another user")
            user = StaffUser(
                username=username,
                display_name=display_name,
                roles=",".join(sorted(roles)),
                password_hash=password_hash,
                pin_hash=pin_hash,
                badge_hash=bh,
                ward_code=ward_code,
                language=language,
                rpps=rpps,
            )
            s.add(user)
            await s.flush()
            await self.audit.record(
                s,
                actor.name,
                "staff.add",
                "staff_user",
                user.id,
                {"username": username, "roles": sorted(roles), "rpps": bool(rpps)},
            )
            return _view(user)

    async def authenticate(self, username: str, password: str) -> StaffView:
        """Password sign-in: the account, or ``auth.failed`` whatever the reason."""
        async with self.db.sessions() as s:
            user = (
                await s.scalars(select(StaffUser).where(StaffUser.username == username))
            ).first()
        return await self._check(user, user.password_hash if user else None, password)

    async def authenticate_badge(self, badge: str, pin: str) -> StaffView:
        """Badge tap plus PIN at the bed, answered like a password sign-in."""
        async with self.db.sessions() as s:
            user = (
                await s.scalars(select(StaffUser).where(StaffUser.badge_hash == badge_hash(badge)))
            ).first()
        return await self._check(user, user.pin_hash if user else None, pin)

    async def _check(self, user: StaffUser | None, stored: str | None, given: str) -> StaffView:
        """The same argon2 work for a known account, an unknown one and a missing secret."""
        ok = await asyncio.to_thread(verify_secret, stored or _dummy_hash(), given)
        if user is None or stored is None or not user.active or not ok:
            raise PermissionDenied("auth.failed", "unknown user or wrong secret")
        return _view(user)

    async def update(
        self,
        actor: Actor,
        username: str,
        *,
        roles: set[str] | None = None,
        active: bool | None = None,
    ) -> StaffView:
        """Change an account's roles or switch it off; its open sessions end at once (the web
        edge refuses a session whose account changed roles or is inactive). Audited."""
        if roles is not None and (not roles or roles - ROLES):
            raise InvalidInput(
                "staff.roles",
                f"roles must be among {', '.join(sorted(ROLES))}",
                roles=sorted(roles),
            )
        async with self.db.session() as s:
            user = (
                await s.scalars(select(StaffUser).where(StaffUser.username == username))
            ).first()
            if user is None:
                raise NotFound("staff.unknown", f"unknown user {username}", username=username)
            changes: dict[str, object] = {}
            if roles is not None and set(roles) != user.role_set:
                user.roles = ",".join(sorted(roles))
                changes["roles"] = sorted(roles)
            if active is not None and active != user.active:
                user.active = active
                changes["active"] = active
            if changes:
                await self.audit.record(
                    s, actor.name, "staff.update", "staff_user", user.id, changes
                )
            return _view(user)

    async def get(self, username: str) -> StaffView:
        async with self.db.sessions() as s:
            user = (
                await s.scalars(select(StaffUser).where(StaffUser.username == username))
            ).first()
            if user is None:
                raise NotFound("staff.unknown", f"unknown user {username}")
            return _view(user)

    async def list_users(self) -> list[StaffView]:
        async with self.db.sessions() as s:
            return [
                _view(u) for u in (await s.scalars(select(StaffUser).order_by(StaffUser.username)))
            ]
