"""Short-lived TURN credentials in coturn's REST API scheme (``use-auth-secret``):
username ``expiry:participant``, password base64(HMAC-SHA1(secret, username)). Pure."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class TurnCredential:
    urls: tuple[str, ...]
    username: str
    credential: str

    def as_ice_server(self) -> dict[str, object]:
        return {"urls": list(self.urls), "username": self.username, "credential": self.credential}


def turn_password(secret: str, username: str) -> str:
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def turn_credential(
    secret: str, urls: tuple[str, ...], participant: str, expires_at: datetime
) -> TurnCredential:
    """A credential coturn accepts until ``expires_at`` (its clock), for one participant."""
    if ":" in participant:
        raise ValueError("a participant name has no colon")
    username = f"{int(expires_at.timestamp())}:{participant}"
    return TurnCredential(urls, username, turn_password(secret, username))
