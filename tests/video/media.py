"""Chromium for the video tests (Debian's, fake camera and microphone, loopback WebRTC) and the
TURN REST credentials a test computes the way coturn checks them."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import time
from contextlib import AbstractAsyncContextManager
from typing import Any

from tests.web.browser import CHROMIUM_ARGS, launch_chromium

VIDEO_ARGS = [
    *CHROMIUM_ARGS,
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--allow-loopback-in-peer-connection",  # Janus gathers on 127.0.0.1 only
    "--autoplay-policy=no-user-gesture-required",
]


def launch_video_chromium() -> AbstractAsyncContextManager[Any]:
    return launch_chromium(VIDEO_ARGS)


def turn_credentials(secret: str, name: str, ttl: int = 600) -> tuple[str, str]:
    """coturn's REST scheme: user ``expiry:name``, password base64(HMAC-SHA1(secret, user))."""
    user = f"{int(time.time()) + ttl}:{name}"
    digest = hmac.new(secret.encode(), user.encode(), hashlib.sha1).digest()
    return user, base64.b64encode(digest).decode()


async def wait_for_media(page: Any, feeds: int = 1, seconds: float = 30.0) -> dict[str, Any]:
    """Until the page decodes video frames from ``feeds`` participants and receives remote
    audio packets; its last stats (a page that never does fails with them)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        stats: dict[str, Any] = await page.evaluate(
            "() => window.videoStats ? window.videoStats() : null"
        )
        if (
            stats
            and stats["remoteFeeds"] >= feeds
            and stats["videoFramesDecoded"] > 0
            and stats["audioPacketsReceived"] > 0
        ):
            return stats
        if loop.time() > deadline:
            raise AssertionError(f"no remote media on {page.url}: {stats}")
        await asyncio.sleep(0.25)
