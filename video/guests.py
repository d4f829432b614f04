"""A guest's one-time link and phone code: random, given once, stored hashed (the link by
SHA-256, looked up; the 6-digit code by argon2, in a worker thread). Pure but for the thread."""

from __future__ import annotations

import asyncio
import hashlib
import secrets

from wardline.domain.staff import hash_secret, verify_secret

LINK_PATH = "/visit/guest/"
MAX_CODE_FAILURES = 5
CODE_DIGITS = 6


def new_link() -> str:
    return secrets.token_urlsafe(32)


def link_hash(link: str) -> str:
    return hashlib.sha256(link.strip().encode()).hexdigest()


def new_code() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def well_formed_link(link: str) -> bool:
    return 20 <= len(link) <= 100 and all(c.isalnum() or c in "-_" for c in link)


def well_formed_code(code: str) -> bool:
    return len(code) == CODE_DIGITS and code.isdigit()


async def hash_code(code: str) -> str:
    return await asyncio.to_thread(hash_secret, code)


async def code_matches(stored: str | None, given: str) -> bool:
    return await asyncio.to_thread(verify_secret, stored, given)


def new_room_id() -> int:
    """A VideoRoom id Janus accepts (a positive 53-bit integer: JSON-safe for browsers)."""
    return secrets.randbelow(2**53 - 2) + 1


def new_secret() -> str:
    return secrets.token_urlsafe(24)
