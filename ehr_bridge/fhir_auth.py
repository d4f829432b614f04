"""Credentials of the FHIR client: a static bearer token, or OAuth2 client credentials
refreshed before they expire (one refresh at a time)."""

from __future__ import annotations

import asyncio
import time
from typing import Protocol

import aiohttp

from ehr_bridge.errors import FhirAuthError, FhirUnreachable


class TokenSource(Protocol):
    async def authorization(self) -> str | None:
        """The ``Authorization`` header value, or None."""
        ...

    def invalidate(self) -> None:
        """Forget the current token (the server said 401)."""
        ...


class NoToken:
    async def authorization(self) -> str | None:
        return None

    def invalidate(self) -> None:
        return None


class StaticToken:
    def __init__(self, token: str) -> None:
        self._header = f"Bearer {token}"

    async def authorization(self) -> str | None:
        return self._header

    def invalidate(self) -> None:
        return None


class ClientCredentials:
    """OAuth2 client credentials grant on the shared session; refreshed ``margin`` seconds
    before expiry."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        token_url: str,
        client_id: str,
        client_secret: str,
        *,
        margin: float = 30.0,
        timeout: float = 5.0,
    ) -> None:
        self.session, self.token_url = session, token_url
        self.client_id, self._secret = client_id, client_secret
        self.margin, self.timeout = margin, timeout
        self._token: str | None = None
        self._expires = 0.0
        self._lock = asyncio.Lock()
        self.fetched = 0

    async def authorization(self) -> str | None:
        if self._token is None or time.monotonic() >= self._expires - self.margin:
            async with self._lock:
                if self._token is None or time.monotonic() >= self._expires - self.margin:
                    await self._fetch()
        return f"Bearer {self._token}"

    def invalidate(self) -> None:
        self._token = None

    async def _fetch(self) -> None:
        form = {
            "grant_type": "client_credentials",
            "client_id": self.client_id,
            "client_secret": self._secret,
        }
        try:
            async with self.session.post(
                self.token_url, data=form, timeout=aiohttp.ClientTimeout(total=self.timeout)
            ) as response:
                body = await response.json(content_type=None)
                status = response.status
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise FhirUnreachable(
                "fhir.token_unreachable", "the token endpoint did not answer"
            ) from exc
        if status != 200 or not isinstance(body, dict) or "access_token" not in body:
            reason = ""
            if isinstance(body, dict):  # RFC 6749 5.2: error and error_description
                words = [str(body[k]) for k in ("error", "error_description") if body.get(k)]
                reason = ": " + " - ".join(words)[:500] if words else ""
            raise FhirAuthError(
                "fhir.token_refused",
                f"the token endpoint refused our credentials ({status}){reason}",
                status=status,
            )
        self._token = str(body["access_token"])
        self._expires = time.monotonic() + float(body.get("expires_in", 300))
        self.fetched += 1
