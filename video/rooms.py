"""The visit's room on Janus: created on acceptance, a token per participant (added to Janus
and to the room's allowed list), kicked and revoked when they leave, destroyed at the end.
Also the options the browsers get (Janus URLs, TURN servers)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from video import janus_messages as jm
from video.errors import disabled
from video.guests import new_room_id, new_secret
from video.janus_client import JanusGateway
from video.turn import turn_credential
from wardline.domain.video_port import IceServer
from wardline.settings import Settings


@dataclass(frozen=True)
class VideoOptions:
    janus_ws_url: str
    janus_http_url: str
    turn_urls: tuple[str, ...]
    turn_secret: str | None
    credential_minutes: float
    invite_minutes: float
    guest_link_minutes: float
    relay_only: bool
    sweep_seconds: float = 5.0

    @classmethod
    def from_settings(cls, settings: Settings) -> VideoOptions:
        secret = settings.turn_secret.get_secret_value() if settings.turn_secret else None
        return cls(
            janus_ws_url=settings.janus_browser_ws_url,
            janus_http_url=settings.effective_janus_browser_http_url,
            turn_urls=tuple(settings.turn_urls),
            turn_secret=secret,
            credential_minutes=settings.video_credential_minutes,
            invite_minutes=settings.video_invite_minutes,
            guest_link_minutes=settings.video_guest_link_minutes,
            relay_only=settings.video_relay_only,
            sweep_seconds=settings.video_sweep_seconds,
        )


@dataclass(frozen=True)
class Room:
    room: int
    secret: str
    pin: str


class RoomKeeper:
    """Wardline's hands on Janus for visits (``gateway`` None: video is not configured)."""

    def __init__(self, gateway: JanusGateway | None, options: VideoOptions) -> None:
        self.gateway, self.options = gateway, options

    def _janus(self) -> JanusGateway:
        if self.gateway is None:
            raise disabled()
        return self.gateway

    async def open(self, visit_id: int) -> Room:
        room = Room(new_room_id(), new_secret(), new_secret())
        spec = jm.RoomSpec(room.room, room.secret, room.pin, f"wardline visit {visit_id}")
        await self._janus().create_room(spec, [])
        return room

    async def rooms(self) -> set[int]:
        return await self._janus().rooms()

    async def reopen(self, room: Room, visit_id: int, tokens: list[str]) -> None:
        """After a Janus restart: the same room again (same id, secret, PIN) with its tokens."""
        janus = self._janus()
        for token in tokens:
            await janus.add_token(token)
        spec = jm.RoomSpec(room.room, room.secret, room.pin, f"wardline visit {visit_id}")
        await janus.create_room(spec, tokens)

    async def grant(self, room: Room) -> str:
        token = secrets.token_urlsafe(24)
        janus = self._janus()
        await janus.add_token(token)
        try:
            await janus.allow(room.room, room.secret, "add", [token])
        except Exception:
            await janus.remove_token(token)
            raise
        return token

    async def revoke(self, room: Room | None, token: str, feed_id: int | None) -> None:
        """The participant's feed kicked out of the room and its token removed."""
        janus = self._janus()
        if room is not None:
            if feed_id is not None:
                await janus.kick(room.room, room.secret, feed_id)
            await janus.allow(room.room, room.secret, "remove", [token])
        await janus.remove_token(token)

    async def close(self, room: Room, tokens: list[str]) -> None:
        janus = self._janus()
        await janus.destroy_room(room.room, room.secret)
        for token in tokens:
            await janus.remove_token(token)

    def ice_servers(self, participant: str, expires_at: datetime) -> tuple[IceServer, ...]:
        if not self.options.turn_secret or not self.options.turn_urls:
            return ()
        cred = turn_credential(
            self.options.turn_secret, self.options.turn_urls, participant, expires_at
        )
        return (IceServer(cred.urls, cred.username, cred.credential),)
