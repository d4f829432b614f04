"""The video pages over HTTP (no browser): who may open them, what their policy opens (Janus in
``connect-src``, the camera and microphone) and that every other page keeps the foundation's;
a guest link that is not valid gets one clear message in the page's language; every message
the video scripts show is translated."""

from __future__ import annotations

from urllib.parse import urlsplit

from aiohttp import web

from kiosk_ui import video_pages
from kiosk_ui.i18n import Catalogs
from kiosk_ui.security import CSP
from tests.video.lab import VideoLab
from wardline import appkeys as k
from wardline.settings import Settings


def janus_origin(lab: VideoLab) -> str:
    parts = urlsplit(lab.gateways.ws_url)
    return f"{parts.scheme}://{parts.netloc}"


async def test_staff_page_for_the_ward_with_janus_and_the_camera_allowed(
    videolab: VideoLab,
) -> None:
    nurse = await videolab.staff("nina")
    response = await nurse.call("GET", "/visits")
    assert response.status == 200
    page = await response.text()
    assert 'value="CARDIO-101-A"' in page
    assert "PNEUMO-" not in page  # her ward's beds only
    policy = response.headers["Content-Security-Policy"]
    assert f"connect-src 'self' {janus_origin(videolab)};" in policy
    assert "script-src 'self';" in policy and "unsafe" not in policy
    assert response.headers["Permissions-Policy"].startswith("camera=(self), microphone=(self)")


async def test_other_pages_keep_the_strict_policy(videolab: VideoLab) -> None:
    nurse = await videolab.staff("nina")
    response = await nurse.call("GET", "/signin")
    assert response.headers["Content-Security-Policy"] == CSP
    assert "camera=()" in response.headers["Permissions-Policy"]


async def test_switchboard_cannot_open_the_staff_page(videolab: VideoLab) -> None:
    operator = await videolab.staff("opal")
    response = await operator.call("GET", "/visits")
    assert response.status in (403, 303)
    assert "visit-form" not in await response.text()


async def test_tv_page_has_the_visit_screen_and_may_use_the_camera(videolab: VideoLab) -> None:
    tv = await videolab.terminal()
    response = await tv.call("GET", "/tv")
    assert response.status == 200
    page = await response.text()
    assert 'id="visit-overlay"' in page and "js/tv_visit.js" in page
    assert janus_origin(videolab) in response.headers["Content-Security-Policy"]
    assert "media-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["Permissions-Policy"].startswith("camera=(self)")


async def test_unknown_guest_link_one_clear_message(videolab: VideoLab) -> None:
    guest = videolab.browser()
    await guest.refresh()
    response = await guest.call("GET", "/visit/guest/" + "A" * 43)
    assert response.status == 404
    page = await response.text()
    assert 'id="guest-error"' in page and 'id="code-form"' not in page
    fr = Catalogs.load().translator("fr")
    assert fr(video_pages.MESSAGES["video.link_invalid"]).split(":")[0] in page
    assert "CARDIO" not in page  # nothing about the patient or the bed


def test_policy_untouched_when_video_is_off() -> None:
    app = web.Application()
    app[k.SETTINGS] = Settings(video_enabled=False)
    assert video_pages.video_policy(app) == CSP


def test_janus_origins_only_browser_urls() -> None:
    settings = Settings(
        janus_browser_ws_url="wss://video.hospital.example:8989/janus",
        janus_browser_http_url="https://video.hospital.example/janus",
    )
    assert video_pages.janus_origins(settings) == [
        "https://video.hospital.example",
        "wss://video.hospital.example:8989",
    ]


def test_every_video_script_message_is_translated() -> None:
    catalogs = Catalogs.load()
    for lang in ("fr", "de"):
        missing = sorted(m for m in video_pages.JS_MESSAGES if m not in catalogs.messages[lang])
        assert not missing, (lang, missing)
