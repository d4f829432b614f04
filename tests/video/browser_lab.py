"""Wardline with video visits for the browser tests: tests/video/peers.py's Janus and coturn
(coturn relaying from the machine's address, so relay-only ICE reaches Janus), the web edge over
real HTTP, the EHR sandbox, the example hospital with a patient in CARDIO-101-A, a clinician and
a nurse of the ward, the bed's terminal credential; Chromium pages signed in as each of them
(tests/video/media.py: fake camera and microphone)."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from ehr_bridge.adt_message import parse_adt
from ehr_bridge.component import setup as ehr_setup
from ehr_bridge.sandbox.server import RunningSandbox
from kiosk_ui.component import setup as web_setup
from kiosk_ui.options import WebOptions
from kiosk_ui.terminal_auth import issue_credential
from tests.conftest import Hospital
from tests.ehr_bridge.messages import adt
from tests.tv.conftest import PASSWORD, TERMINAL, tv_settings
from tests.video.peers import VideoPeers
from video.component import setup as video_setup
from wardline import appkeys as k
from wardline.app import build_app
from wardline.domain.commands import SYSTEM_ADMIN_CLI

VIEWPORT = {"width": 1280, "height": 720}
TV_VIEWPORT = {"width": 1920, "height": 1080}
CLINICIAN, NURSE = "dr.weiss", "nina"
Serve = Callable[[web.Application], Awaitable[str]]


@dataclass
class VideoLab:
    app: web.Application
    base: str
    credential: str
    peers: VideoPeers


async def open_video_lab(
    hospital: Hospital,
    tmp_path: Path,
    sandbox: RunningSandbox,
    serve_app: Serve,
    peers: VideoPeers,
    **extra: Any,
) -> VideoLab:
    settings = tv_settings(tmp_path, sandbox, **{**peers.settings(), **extra})
    app = build_app(
        settings,
        database=hospital.db,
        clock=hospital.clock,
        components=[
            ehr_setup,
            video_setup,
            functools.partial(web_setup, options=WebOptions(signin_attempts=50)),
        ],
    )
    base = await serve_app(app)
    await app[k.STAYS].apply(parse_adt(adt("A01", "C1")).command, SYSTEM_ADMIN_CLI)
    for username, name, role in (
        (CLINICIAN, "Dr Anna Weiss", "clinician"),
        (NURSE, "Nina Rossi", "nurse"),
    ):
        await app[k.STAFF].add_user(
            SYSTEM_ADMIN_CLI,
            username=username,
            display_name=name,
            roles={role},
            password=PASSWORD,
            ward_code="CARDIO",
        )
    credential = await issue_credential(app[k.DATABASE], TERMINAL, audit=app[k.AUDIT])
    return VideoLab(app, base, credential, peers)


def watch(page: Any, name: str) -> Any:
    """A page's script errors and console errors in the test's output (pytest shows them on
    failure)."""
    page.on("pageerror", lambda exc: print(f"[{name}] page error: {exc}"))
    page.on(
        "console",
        lambda msg: (
            print(f"[{name}] {msg.type}: {msg.text}") if msg.type in ("error", "warning") else None
        ),
    )
    return page


async def staff_page(browser: Any, lab: VideoLab, username: str = CLINICIAN) -> Any:
    context = await browser.new_context(viewport=VIEWPORT)
    page = watch(await context.new_page(), username)
    await page.goto(lab.base + "/signin")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", PASSWORD)
    async with page.expect_navigation():
        await page.keyboard.press("Enter")
    await page.goto(lab.base + "/visits")
    await page.wait_for_selector("#live-state[data-state='up']")
    return page


async def tv_page(browser: Any, lab: VideoLab) -> Any:
    context = await browser.new_context(viewport=TV_VIEWPORT)
    page = watch(await context.new_page(), "tv")
    await page.goto(lab.base + "/tv")
    await page.fill("#credential", lab.credential)
    await page.keyboard.press("Enter")
    await page.wait_for_url(lab.base + "/tv")
    await page.wait_for_selector("body[data-view='home'][data-visit='']")
    return page


async def invite(page: Any, *, guests: tuple[str, ...] = ()) -> list[dict[str, str]]:
    """Send an invitation to the bed from the staff page; the guests' links and codes."""
    for i, label in enumerate(guests):
        await page.locator(".guest-label").nth(i).fill(label)
    await page.click("#visit-send")
    await page.wait_for_selector("#invite-result p")
    error = await page.query_selector("#invite-result .error")
    assert error is None, await error.text_content()
    out = []
    for row in await page.query_selector_all(".guest-invite"):
        out.append(
            {
                "link": await (await row.query_selector(".guest-link")).text_content(),
                "code": await (await row.query_selector(".guest-code")).text_content(),
            }
        )
    return out
