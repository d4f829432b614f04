"""``setup(app)``: the video edge in the composition root. When ``WARDLINE_VIDEO_ENABLED`` is
off nothing is started and the web answers ``video.disabled``; when on, the Janus secrets must
be set (a missing one stops the start with a clear error), an HTTP client to Janus lives in a
cleanup context with the sweeper, and the readiness check ``video`` asks Janus for its info
(``degraded`` when Janus does not answer)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from aiohttp import web

from video.errors import GatewayError
from video.janus_client import JanusAddress, JanusGateway
from video.rooms import RoomKeeper, VideoOptions
from video.service import VideoService
from wardline import appkeys as k
from wardline.domain.events import StayCancelled, StayDischarged, StayTransferred
from wardline.errors import ConfigError
from wardline.settings import Settings

VIDEO_SERVICE = web.AppKey("video_service", VideoService)


def janus_address(settings: Settings) -> JanusAddress:
    missing = [
        f"WARDLINE_{name.upper()}"
        for name in ("janus_api_secret", "janus_admin_secret", "janus_room_admin_key")
        if getattr(settings, name) is None
    ]
    if missing:
        raise ConfigError(
            "video.config", "video visits need " + ", ".join(missing), missing=missing
        )
    assert settings.janus_admin_secret is not None and settings.janus_room_admin_key is not None
    api = settings.janus_api_secret.get_secret_value() if settings.janus_api_secret else None
    return JanusAddress(
        api_url=settings.janus_api_url,
        admin_url=settings.janus_admin_url,
        api_secret=api,
        admin_secret=settings.janus_admin_secret.get_secret_value(),
        admin_key=settings.janus_room_admin_key.get_secret_value(),
    )


def setup(app: web.Application) -> None:
    settings = app[k.SETTINGS]
    if not settings.video_enabled:

        def disabled() -> dict[str, Any]:
            return {"state": "disabled"}

        app[k.READINESS].register("video", disabled)
        return
    address = janus_address(settings)
    keeper = RoomKeeper(None, VideoOptions.from_settings(settings))
    service = VideoService(
        app[k.DATABASE], app[k.BUS], app[k.AUDIT], keeper, app[k.CLOCK], keeper.options
    )
    app[VIDEO_SERVICE] = service
    app[k.VIDEO_VISITS] = service
    app[k.BUS].subscribe(
        (StayDischarged, StayTransferred, StayCancelled), service.on_stay, name="video.stays"
    )

    async def health() -> dict[str, Any]:
        """Janus down is ``degraded``, not ``down``: the wards' phones, terminals and pages
        go on (the instance stays in the load balancer); only visits wait for it."""
        if keeper.gateway is None:
            return {"state": "down"}
        try:
            info = await keeper.gateway.info()
        except GatewayError as exc:
            return {"state": "degraded", "janus": "unreachable", "error": exc.error_id}
        return {"state": "up", "janus": info.get("version_string")}

    app[k.READINESS].register("video", health)

    async def context(app: web.Application) -> AsyncIterator[None]:
        async with aiohttp.ClientSession() as http:
            keeper.gateway = JanusGateway(http, address)
            sweeper = asyncio.create_task(service.run_sweeper(), name="video.sweeper")
            yield
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
            keeper.gateway = None

    app.cleanup_ctx.append(context)
