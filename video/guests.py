"""A guest's one-time link and phone code: random, given once, stored hashed. The link by
SHA-256 (looked up); the 6-digit code by HMAC-SHA256 under a key the database never holds
(derived from the service's audit key) and bound to its link, so a stolen table does not give
the codes away (a slow unkeyed hash would not protect a million codes), and checking one costs
microseconds. Wrong codes are limited per guest (:data:`MAX_CODE_FAILURES`). Pure."""

from __future__ import annotations

import hashlib
import hmac
import secrets

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


def code_key(service_key: bytes) -> bytes:
    """The codes' own key, derived from the service's key (one key, one purpose)."""
    return hmac.new(service_key, b"wardline video guest code v1", hashlib.sha256).digest()


def code_digest(key: bytes, link_digest: str, code: str) -> str:
    return hmac.new(key, f"{link_digest}:{code}".encode(), hashlib.sha256).hexdigest()


def code_matches(key: bytes, stored: str | None, link_digest: str | None, given: str) -> bool:
    if not stored or not link_digest:
        return False
    return hmac.compare_digest(stored, code_digest(key, link_digest, given))


def new_room_id() -> int:
    """A VideoRoom id Janus accepts (a positive 53-bit integer: JSON-safe for browsers)."""
    return secrets.randbelow(2**53 - 2) + 1


def new_secret() -> str:
    return secrets.token_urlsafe(24)
