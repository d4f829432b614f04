"""A video visit end to end in Chromium (fake camera and microphone) on a real Janus and coturn:
the clinician invites from the staff page, the patient answers on the TV with the remote, and
each page decodes the other's video and receives its audio (WebRTC getStats); relay-only
through coturn; a declined invitation starts nothing; Back on the TV ends the patient's side;
guests: a wrong code, a foreign or expired link cannot join, a guest waits until admitted."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from ehr_bridge.sandbox.server import RunningSandbox
from tests.conftest import FakeClock, Hospital
from tests.tv import conftest as tv_conftest
from tests.video.browser_lab import (
    TV_VIEWPORT,
    VideoLab,
    invite,
    open_video_lab,
    staff_page,
    tv_page,
)
from tests.video.media import launch_video_chromium, wait_for_media
from tests.video.peers import VideoPeers, running_peers
from tests.web.browser import save_screenshot
from video.models import VideoVisit
from wardline import appkeys as k

db = tv_conftest.db  # SQLite, like the TV's tests
sandbox = tv_conftest.sandbox  # the EHR sandbox (a real HTTP server)


@pytest.fixture
def clock() -> FakeClock:
    # coturn checks the TURN credentials' expiry against the real time
    return FakeClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
async def peers(tmp_path: Path) -> AsyncIterator[VideoPeers]:
    async with running_peers(tmp_path / "peers") as running:
        yield running


async def lab_with(
    hospital: Hospital,
    tmp_path: Path,
    sandbox: RunningSandbox,
    serve_app: Any,
    peers: VideoPeers,
    **extra: Any,
) -> VideoLab:
    return await open_video_lab(hospital, tmp_path, sandbox, serve_app, peers, **extra)


async def visit_rows(lab: VideoLab) -> list[VideoVisit]:
    async with lab.app[k.DATABASE].sessions() as s:
        return list(await s.scalars(select(VideoVisit).order_by(VideoVisit.id)))


async def accept_with_remote(tv: Any) -> None:
    await tv.wait_for_selector("body[data-visit='invited']")
    assert await tv.evaluate("document.activeElement.id") == "visit-accept"
    # the arrows move between the answers; OK chooses
    await tv.keyboard.press("ArrowRight")
    assert await tv.evaluate("document.activeElement.id") == "visit-decline"
    await tv.keyboard.press("ArrowLeft")
    assert await tv.evaluate("document.activeElement.id") == "visit-accept"
    await tv.keyboard.press("Enter")
    await tv.wait_for_selector("body[data-visit='live']", timeout=20_000)


async def test_invited_accepted_both_sides_see_and_hear(
    hospital: Hospital,
    tmp_path: Path,
    sandbox: RunningSandbox,
    serve_app: Any,
    peers: VideoPeers,
) -> None:
    lab = await lab_with(hospital, tmp_path, sandbox, serve_app, peers)
    async with launch_video_chromium() as browser:
        tv = await tv_page(browser, lab)
        staff = await staff_page(browser, lab)
        await invite(staff)
        await tv.wait_for_selector("body[data-visit='invited']")
        assert "Dr Anna Weiss" in (await tv.text_content("#visit-who") or "")
        await save_screenshot(tv, "tv-video-invitation", tmp_path)
        await accept_with_remote(tv)
        # the camera sign is on screen all through the visit
        assert await tv.is_visible("#visit-camera-on")
        await staff.wait_for_selector("#visits-page[data-in-visit]", timeout=20_000)
        for page in (tv, staff):
            stats = await wait_for_media(page)
            assert stats["remoteFeeds"] == 1, stats
        # the ward's list: who, when, state (never content)
        row = staff.locator("#visit-list tr[data-state='live']")
        await row.wait_for()
        assert "CARDIO-101-A" in (await row.text_content() or "")

        # Back on the TV ends the visit for the patient; the staff page sees it end
        await tv.keyboard.press("Escape")
        await tv.wait_for_selector("body[data-visit='']")
        assert not await tv.is_visible("#visit-camera-on")
        await staff.wait_for_selector("#visit-list tr[data-state='ended']", timeout=15_000)
        await staff.wait_for_function(
            "() => !document.getElementById('visits-page').dataset.inVisit"
        )
    (visit,) = await visit_rows(lab)
    assert visit.state == "ended"


async def test_relay_only_goes_through_coturn(
    hospital: Hospital,
    tmp_path: Path,
    sandbox: RunningSandbox,
    serve_app: Any,
    peers: VideoPeers,
) -> None:
    lab = await lab_with(hospital, tmp_path, sandbox, serve_app, peers, video_relay_only=True)
    async with launch_video_chromium() as browser:
        tv = await tv_page(browser, lab)
        staff = await staff_page(browser, lab)
        await invite(staff)
        await accept_with_remote(tv)
        for page in (tv, staff):
            stats = await wait_for_media(page)
            selected = [p for p in stats["pairs"] if p["state"] == "succeeded"]
            assert selected and all(p["local"] == "relay" for p in selected), stats


async def test_declined_invitation_starts_nothing(
    hospital: Hospital,
    tmp_path: Path,
    sandbox: RunningSandbox,
    serve_app: Any,
    peers: VideoPeers,
) -> None:
    lab = await lab_with(hospital, tmp_path, sandbox, serve_app, peers)
    async with launch_video_chromium() as browser:
        tv = await tv_page(browser, lab)
        staff = await staff_page(browser, lab)
        await invite(staff)
        await tv.wait_for_selector("body[data-visit='invited']")
        await tv.keyboard.press("ArrowRight")
        await tv.keyboard.press("Enter")
        await tv.wait_for_selector("body[data-visit='']")
        await staff.wait_for_selector("#visit-list tr[data-state='declined']", timeout=15_000)
        assert await tv.evaluate("typeof window.videoStats") == "undefined"
        assert await staff.evaluate("typeof window.videoStats") == "undefined"
        assert not await staff.is_visible("#video-area")
    (visit,) = await visit_rows(lab)
    assert visit.state == "declined" and visit.accepted_at is None


async def test_guest_code_link_and_waiting_room(
    hospital: Hospital,
    tmp_path: Path,
    sandbox: RunningSandbox,
    serve_app: Any,
    peers: VideoPeers,
) -> None:
    lab = await lab_with(hospital, tmp_path, sandbox, serve_app, peers)
    async with launch_video_chromium() as browser:
        tv = await tv_page(browser, lab)
        staff = await staff_page(browser, lab)
        (guest_invite,) = await invite(staff, guests=("Daughter",))
        await accept_with_remote(tv)

        guest = await (await browser.new_context(viewport=TV_VIEWPORT)).new_page()
        # a foreign link (not one Wardline gave) is refused with one clear message
        answer = await guest.goto(lab.base + "/visit/guest/" + "x" * 43)
        assert answer is not None and answer.status == 404
        assert await guest.is_visible("#guest-error")

        await guest.goto(guest_invite["link"])
        wrong = "000000" if guest_invite["code"] != "000000" else "111111"
        await guest.fill("#guest-code", wrong)
        await guest.keyboard.press("Enter")
        await guest.wait_for_selector("#guest-message[data-error='video.code_wrong']")
        assert await guest.get_attribute("#guest-page", "data-state") == "code"

        await guest.fill("#guest-code", guest_invite["code"])
        await guest.keyboard.press("Enter")
        await guest.wait_for_selector("#guest-page[data-state='waiting']")
        # waiting: no media until the care team admits
        assert await guest.evaluate("typeof window.videoStats") == "undefined"

        admit = staff.locator("button.admit")
        await admit.wait_for(timeout=15_000)
        await admit.click()
        await guest.wait_for_selector("#guest-page[data-state='joined']", timeout=20_000)
        stats = await wait_for_media(guest, feeds=2)
        assert stats["remoteFeeds"] == 2, stats  # the patient and the clinician
        for page in (tv, staff):  # and both of them see the guest too
            assert (await wait_for_media(page, feeds=2))["remoteFeeds"] == 2

        # the link is spent: opened again, it does not let anyone in
        other = await (await browser.new_context()).new_page()
        again = await other.goto(guest_invite["link"])
        assert again is not None and again.status == 404


async def test_expired_guest_link_cannot_join(
    hospital: Hospital,
    tmp_path: Path,
    sandbox: RunningSandbox,
    serve_app: Any,
    peers: VideoPeers,
    clock: FakeClock,
) -> None:
    lab = await lab_with(hospital, tmp_path, sandbox, serve_app, peers)
    async with launch_video_chromium() as browser:
        staff = await staff_page(browser, lab)
        (guest_invite,) = await invite(staff, guests=("Interpreter",))
        clock.advance(minutes=lab.app[k.SETTINGS].video_guest_link_minutes + 1)
        guest = await (await browser.new_context()).new_page()
        answer = await guest.goto(guest_invite["link"])
        assert answer is not None and answer.status == 404
        assert await guest.is_visible("#guest-error")
        assert not await guest.is_visible("#guest-code")


async def test_tv_reloaded_rejoins_then_the_clinician_ends_the_visit(
    hospital: Hospital,
    tmp_path: Path,
    sandbox: RunningSandbox,
    serve_app: Any,
    peers: VideoPeers,
) -> None:
    lab = await lab_with(hospital, tmp_path, sandbox, serve_app, peers)
    async with launch_video_chromium() as browser:
        tv = await tv_page(browser, lab)
        staff = await staff_page(browser, lab)
        await invite(staff)
        await accept_with_remote(tv)
        await wait_for_media(tv)
        # the TV's page is reloaded during the accepted visit: it joins again on its own
        await tv.reload()
        await tv.wait_for_selector("body[data-visit='live']", timeout=20_000)
        assert await tv.is_visible("#visit-camera-on")
        await wait_for_media(tv)
        # the clinician ends it: the TV's camera and pictures stop
        await staff.click("#visit-list tr[data-state='live'] button.end")
        await tv.wait_for_selector("body[data-visit='']", timeout=15_000)
        assert await tv.evaluate("typeof window.videoStats") == "undefined"
    (visit,) = await visit_rows(lab)
    assert visit.state == "ended"


async def test_janus_restarted_the_visit_goes_on(
    hospital: Hospital,
    tmp_path: Path,
    sandbox: RunningSandbox,
    serve_app: Any,
    peers: VideoPeers,
) -> None:
    """Janus forgets rooms and tokens when it restarts: Wardline creates the live visit's room
    again and the TV and the staff page, having lost their connection, join again."""
    lab = await lab_with(hospital, tmp_path, sandbox, serve_app, peers, video_sweep_seconds=1)
    async with launch_video_chromium() as browser:
        tv = await tv_page(browser, lab)
        staff = await staff_page(browser, lab)
        await invite(staff)
        await accept_with_remote(tv)
        await wait_for_media(tv)
        await peers.restart_janus()
        await tv.wait_for_function(
            "() => window.videoStats === undefined || document.body.dataset.visit !== 'live'"
        )
        await tv.wait_for_selector("body[data-visit='live']", timeout=30_000)
        for page in (tv, staff):
            stats = await wait_for_media(page, seconds=45)
            assert stats["remoteFeeds"] == 1, stats
    (visit,) = await visit_rows(lab)
    assert visit.state == "live"
