"""kiosk_ui's browser module ``janus_room.js`` on its own, against a real Janus (VideoRoom) and
coturn on 127.0.0.1: two Chromium pages with fake camera and microphone join one room with
their own tokens and the room's PIN, and each decodes the other's video and receives its audio;
relay-only ICE goes through coturn; a wrong PIN or an unknown token cannot join."""

from __future__ import annotations

import html
import json
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from kiosk_ui.static_files import StaticFiles
from tests.video.media import launch_video_chromium, turn_credentials, wait_for_media
from tests.video.peers import JanusAdmin, RunningJanus, RunningTurn, VideoPeers, running_peers

STATIC = Path(__file__).resolve().parents[2] / "kiosk_ui" / "static"
PROBE = Path(__file__).with_name("probe") / "probe.js"
ROOM, PIN = 4242, "8642"


@pytest.fixture
async def peers(tmp_path: Path) -> AsyncIterator[VideoPeers]:
    async with running_peers(tmp_path) as running:
        await JanusAdmin(running.janus).create_room(ROOM, PIN, secrets.token_hex(8))
        yield running


@pytest.fixture
def janus(peers: VideoPeers) -> RunningJanus:
    return peers.janus


@pytest.fixture
def turn(peers: VideoPeers) -> RunningTurn:
    return peers.turn


def probe_app(joins: dict[str, dict[str, Any]], janus: RunningJanus) -> web.Application:
    """The static files as Wardline serves them, and one probe page per participant, with the
    foundation's strict policy opened only to Janus's WebSocket."""
    app = web.Application()
    files = StaticFiles(STATIC)
    app.router.add_get("/static/{filename:.+}", files.handle)

    async def probe_js(_: web.Request) -> web.Response:
        return web.Response(body=PROBE.read_bytes(), content_type="text/javascript")

    async def page(request: web.Request) -> web.Response:
        join = joins[request.match_info["who"]]
        data = html.escape(json.dumps(join), quote=False)
        body = (
            '<!doctype html><html><head><meta charset="utf-8">'
            f'<script type="application/json" id="join">{data}</script>'
            '<script type="module" src="/probe.js"></script></head>'
            '<body><div id="remotes"></div></body></html>'
        )
        response = web.Response(text=body, content_type="text/html")
        response.headers["Content-Security-Policy"] = (
            "default-src 'none'; script-src 'self'; "
            f"connect-src 'self' {janus.ws_url}; media-src 'self' blob: mediastream:"
        )
        return response

    app.router.add_get("/probe.js", probe_js)
    app.router.add_get("/probe/{who}", page)
    return app


async def join_answer(
    janus: RunningJanus, display: str, ice: list[dict[str, Any]]
) -> dict[str, Any]:
    token = secrets.token_urlsafe(24)
    await JanusAdmin(janus).add_token(token)
    return {
        "janus": {
            "url": janus.ws_url,
            "room": ROOM,
            "pin": PIN,
            "token": token,
            "display": display,
        },
        "ice_servers": ice,
    }


async def open_probe(browser: Any, url: str) -> Any:
    page = await browser.new_page()
    await page.goto(url)
    await page.wait_for_function(
        "() => window.probe && window.probe.state !== 'joining'", timeout=20_000
    )
    state = await page.evaluate("window.probe")
    assert state["state"] == "joined", state
    return page


async def test_two_pages_see_and_hear_each_other(janus: RunningJanus, serve_app: Any) -> None:
    joins = {
        "ward": await join_answer(janus, "Dr Weiss", []),
        "bed": await join_answer(janus, "Patient", []),
    }
    base = await serve_app(probe_app(joins, janus))
    async with launch_video_chromium() as browser:
        ward = await open_probe(browser, f"{base}/probe/ward")
        bed = await open_probe(browser, f"{base}/probe/bed")
        for page in (ward, bed):
            stats = await wait_for_media(page)
            assert stats["remoteFeeds"] == 1
            assert all(p["local"] == "host" for p in stats["pairs"] if p["state"] == "succeeded")
        await bed.evaluate("window.probe.leave()")
        await ward.wait_for_function("() => window.probe.remotes === 0", timeout=15_000)


async def test_relay_only_goes_through_coturn(
    janus: RunningJanus, turn: RunningTurn, serve_app: Any
) -> None:
    def ice(name: str) -> list[dict[str, Any]]:
        user, password = turn_credentials(turn.secret, name)
        return [
            {
                "urls": [f"turn:127.0.0.1:{turn.port}?transport=udp"],
                "username": user,
                "credential": password,
            }
        ]

    joins = {
        "ward": await join_answer(janus, "Dr Weiss", ice("p1")),
        "bed": await join_answer(janus, "Patient", ice("p2")),
    }
    base = await serve_app(probe_app(joins, janus))
    async with launch_video_chromium() as browser:
        ward = await open_probe(browser, f"{base}/probe/ward?relay=1")
        bed = await open_probe(browser, f"{base}/probe/bed?relay=1")
        for page in (ward, bed):
            stats = await wait_for_media(page)
            selected = [p for p in stats["pairs"] if p["state"] == "succeeded"]
            assert selected and all(p["local"] == "relay" for p in selected), stats


async def test_wrong_pin_or_unknown_token_cannot_join(janus: RunningJanus, serve_app: Any) -> None:
    wrong_pin = await join_answer(janus, "Someone", [])
    wrong_pin["janus"]["pin"] = "0000"
    unknown = await join_answer(janus, "Someone", [])
    unknown["janus"]["token"] = "not-a-token"
    base = await serve_app(probe_app({"pin": wrong_pin, "token": unknown}, janus))
    async with launch_video_chromium() as browser:
        for who in ("pin", "token"):
            page = await browser.new_page()
            await page.goto(f"{base}/probe/{who}")
            await page.wait_for_function("() => window.probe && window.probe.state !== 'joining'")
            state = await page.evaluate("window.probe")
            assert state["state"] == "failed", state
            assert state["error"].split()[0] == {"pin": "433", "token": "403"}[who], state
