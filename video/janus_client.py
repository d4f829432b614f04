"""Wardline's client of Janus over HTTP (aiohttp): its VideoRoom requests through the core API
(authenticated by the ``api_secret``) and the tokens through the admin API. Every transport
failure becomes ``video.gateway_unreachable``; every refusal ``video.gateway_refused`` (with
Janus's code), so nothing above sees aiohttp or Janus's JSON."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
import structlog

from video import janus_messages as jm
from video.errors import GatewayError, gateway_refused, gateway_unreachable

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class JanusAddress:
    api_url: str
    admin_url: str
    api_secret: str | None
    admin_secret: str
    admin_key: str | None
    timeout: float = 5.0


class JanusSession:
    """One Janus session with one VideoRoom handle, authenticated either by the API secret
    (Wardline) or by a participant's token (a browser, or a test playing one)."""

    def __init__(
        self,
        http: aiohttp.ClientSession,
        api_url: str,
        *,
        api_secret: str | None = None,
        token: str | None = None,
        timeout: float = 5.0,
    ) -> None:
        self.http, self.api_url, self.timeout = http, api_url.rstrip("/"), timeout
        self.api_secret, self.token = api_secret, token
        self.session_id: int | None = None
        self.handle_id: int | None = None

    def _auth(self, message: dict[str, Any]) -> dict[str, Any]:
        return jm.with_token(message, self.token) if self.token else message

    async def post(self, path: str, message: dict[str, Any]) -> Any:
        return await post_json(self.http, self.api_url + path, self._auth(message), self.timeout)

    async def open(self) -> None:
        self.session_id = jm.created_id(await self.post("", jm.create_session(self.api_secret)))
        answer = await self.post(f"/{self.session_id}", jm.attach(self.api_secret))
        self.handle_id = jm.created_id(answer)

    async def close(self) -> None:
        if self.session_id is None:
            return
        try:
            await self.post(f"/{self.session_id}", jm.destroy_session(self.api_secret))
        except Exception as exc:  # a session Janus already dropped times out there on its own
            log.info("janus.session_close_failed", error=str(exc))
        self.session_id = self.handle_id = None

    async def send(self, body: dict[str, Any]) -> Any:
        """A plugin message; the raw answer (``success`` for synchronous requests, ``ack``
        for asynchronous ones such as ``join``, whose result comes by :meth:`next_event`)."""
        assert self.session_id is not None and self.handle_id is not None
        return await self.post(
            f"/{self.session_id}/{self.handle_id}", jm.plugin_message(self.api_secret, body)
        )

    async def request(self, body: dict[str, Any]) -> dict[str, Any]:
        return jm.room_reply(await self.send(body))

    async def next_event(self, wait: float = 10.0) -> Any:
        """The next event of the session (HTTP long poll)."""
        params = {"maxev": "1", "rid": jm.transaction()}
        if self.token:
            params["token"] = self.token
        elif self.api_secret:
            params["apisecret"] = self.api_secret
        url = f"{self.api_url}/{self.session_id}"
        limit = aiohttp.ClientTimeout(total=wait + 35)
        try:
            async with self.http.get(url, params=params, timeout=limit) as response:
                answer = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise gateway_unreachable("no event", error=type(exc).__name__) from exc
        return answer


async def post_json(
    http: aiohttp.ClientSession, url: str, message: dict[str, Any], seconds: float
) -> Any:
    try:
        async with http.post(url, json=message, timeout=aiohttp.ClientTimeout(total=seconds)) as r:
            return await r.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        raise gateway_unreachable(type(exc).__name__, url=url.split("?")[0]) from exc


class JanusGateway:
    """What Wardline does on Janus: rooms (create, allow tokens, kick, destroy) and tokens."""

    def __init__(self, http: aiohttp.ClientSession, address: JanusAddress) -> None:
        self.http, self.address = http, address

    @asynccontextmanager
    async def _room_handle(self) -> AsyncIterator[JanusSession]:
        a = self.address
        session = JanusSession(self.http, a.api_url, api_secret=a.api_secret, timeout=a.timeout)
        await session.open()
        try:
            yield session
        finally:
            await asyncio.shield(session.close())

    async def _admin(self, message: dict[str, Any]) -> dict[str, Any]:
        a = self.address
        return jm.reply_of(await post_json(self.http, a.admin_url, message, a.timeout))

    async def info(self) -> dict[str, Any]:
        url = self.address.api_url.rstrip("/") + "/info"
        try:
            async with self.http.get(
                url, timeout=aiohttp.ClientTimeout(total=self.address.timeout)
            ) as r:
                answer = await r.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise gateway_unreachable(type(exc).__name__) from exc
        return jm.reply_of(answer, expect="server_info")

    async def add_token(self, token: str) -> None:
        await self._admin(jm.add_token(self.address.admin_secret, token))

    async def remove_token(self, token: str) -> None:
        try:
            await self._admin(jm.remove_token(self.address.admin_secret, token))
        except GatewayError as exc:
            if exc.error_id != "video.gateway_refused":
                raise  # refused: already gone (a restarted Janus forgets its tokens)

    async def tokens(self) -> list[str]:
        answer = await self._admin(jm.list_tokens(self.address.admin_secret))
        return [t["token"] for t in answer.get("data", {}).get("tokens", [])]

    async def create_room(self, spec: jm.RoomSpec, tokens: list[str]) -> None:
        async with self._room_handle() as janus:
            await janus.request(jm.create_room(spec, self.address.admin_key))
            if tokens:
                await janus.request(jm.allow_tokens(spec.room, spec.secret, "add", tokens))

    async def allow(self, room: int, secret: str, action: str, tokens: list[str]) -> None:
        async with self._room_handle() as janus:
            try:
                await janus.request(jm.allow_tokens(room, secret, action, tokens))
            except GatewayError as exc:
                if action != "remove" or exc.details.get("code") != jm.NO_SUCH_ROOM:
                    raise

    async def kick(self, room: int, secret: str, feed_id: int) -> None:
        async with self._room_handle() as janus:
            try:
                await janus.request(jm.kick(room, secret, feed_id))
            except GatewayError as exc:
                if exc.details.get("code") not in (jm.NO_SUCH_FEED, jm.NO_SUCH_ROOM):
                    raise

    async def destroy_room(self, room: int, secret: str) -> None:
        """Destroyed (or already gone: a restarted Janus forgets its rooms)."""
        async with self._room_handle() as janus:
            try:
                await janus.request(jm.destroy_room(room, secret))
            except GatewayError as exc:
                if exc.details.get("code") != jm.NO_SUCH_ROOM:
                    raise

    async def rooms(self) -> set[int]:
        """Every room on Janus, private ones included (listed with the admin key)."""
        async with self._room_handle() as janus:
            data = await janus.request(jm.list_rooms(self.address.admin_key))
        return {int(r["room"]) for r in data.get("list", []) if isinstance(r, dict)}

    async def room_exists(self, room: int) -> bool:
        async with self._room_handle() as janus:
            data = await janus.request(jm.exists(room))
        return bool(data.get("exists"))


__all__ = ["JanusAddress", "JanusGateway", "JanusSession", "gateway_refused", "post_json"]
