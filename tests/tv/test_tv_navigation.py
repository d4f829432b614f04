"""The remote goes where the eye expects: Chromium drives the TV with the arrow keys, OK and
Back only, and each test says where the focus lands on each page (home, meals, survey,
language, phone, TV and radio, information); larger text never hides anything under the keys'
footer; a stream that fails says "no signal"."""

from __future__ import annotations

import io
import json
import wave
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests.tv.conftest import TvLab
from tests.tv.test_tv_browser import enrolled_tv, open_tile
from tests.web.browser import launch_chromium, save_screenshot

FOCUSED = """() => {
  const e = document.activeElement;
  if (!e || e === document.body) return "body";
  const d = e.dataset;
  if (d.question) return `${d.question}-${d.score}`;
  return d.go || d.dish || d.lang || d.channel || d.page || e.id || e.tagName;
}"""


async def focused(page: Any) -> str:
    value: str = await page.evaluate(FOCUSED)
    return value


async def walk(page: Any, *steps: tuple[str, str]) -> None:
    """Press each key and check where the focus lands."""
    for key, expected in steps:
        await page.keyboard.press(key)
        assert await focused(page) == expected, f"{key} should land on {expected}"


async def pressed(page: Any, selector: str) -> list[str]:
    found: list[str] = await page.eval_on_selector_all(
        f"{selector}[aria-pressed='true']",
        "es => es.map(e => e.dataset.question + e.dataset.score)",
    )
    return found


async def nothing_under_the_footer(page: Any) -> None:
    """The view ends above the keys' footer, and so does everything shown in it that is in
    sight: what does not fit scrolls, it is never covered."""
    boxes = await page.evaluate(
        """() => {
          const foot = document.querySelector('footer.keys').getBoundingClientRect();
          const main = document.getElementById('main').getBoundingClientRect();
          return {foot: foot.top, main: main.bottom, height: innerHeight, bottom: foot.bottom};
        }"""
    )
    assert boxes["main"] <= boxes["foot"] + 0.5 and boxes["bottom"] <= boxes["height"] + 0.5


@pytest.mark.parametrize("large", [False, True], ids=["normal", "large"])
async def test_arrows_move_by_position_on_every_page(
    tvlab: TvLab, tmp_path: Path, large: bool
) -> None:
    suffix = "-large" if large else ""
    async with launch_chromium() as browser:
        page = await enrolled_tv(browser, tvlab)
        if large:
            await page.evaluate("localStorage.setItem('tv-large', '1')")
            await page.reload()
            await page.wait_for_selector("body.large[data-view='home']")

        # Home: a grid of tiles; past the end of a row, the next row.
        assert await focused(page) == "tv"
        await walk(
            page,
            ("ArrowRight", "radio"),
            ("ArrowDown", "nurse-call"),
            ("ArrowLeft", "survey"),
            ("ArrowLeft", "info"),  # the end of the first row
            ("ArrowRight", "survey"),
            ("ArrowUp", "tv"),
        )
        await nothing_under_the_footer(page)
        await save_screenshot(page, f"tv-remote-home{suffix}", tmp_path)

        # Meals: lunch on the left, dinner on the right.
        await open_tile(page, "meals")
        await page.wait_for_selector("body[data-view='meals']")
        assert await focused(page) == "L2"
        await walk(
            page,
            ("ArrowRight", "D2"),
            ("ArrowDown", "D3"),
            ("ArrowLeft", "L3"),
            ("ArrowUp", "L2"),
            ("ArrowUp", "L2"),  # nothing above: the focus stays
        )
        assert await page.eval_on_selector_all(".dish[aria-pressed='true']", "es => es.length") == 0
        await page.keyboard.press("Enter")
        await page.wait_for_selector(".dish[data-dish='L2'][aria-pressed='true']")
        await nothing_under_the_footer(page)
        await save_screenshot(page, f"tv-remote-meals{suffix}", tmp_path)
        await page.keyboard.press("Escape")
        await page.wait_for_selector("body[data-view='home']")
        assert await focused(page) == "meals"  # back where the patient was

        # Survey: down goes to the next question; an answer changes only with OK.
        await open_tile(page, "survey")
        await page.wait_for_selector("body[data-view='survey']")
        assert await focused(page) == "care-1"
        await walk(
            page,
            ("ArrowRight", "care-2"),
            ("ArrowRight", "care-3"),
            ("ArrowDown", "meals-3"),
            ("ArrowDown", "comfort-3"),
        )
        assert await pressed(page, ".score") == []
        await page.keyboard.press("Enter")
        await walk(page, ("ArrowUp", "meals-3"), ("ArrowRight", "meals-4"))
        assert await pressed(page, ".score") == ["comfort3"]
        await page.keyboard.press("Enter")
        assert await pressed(page, ".score") == ["meals4", "comfort3"]
        await walk(page, ("ArrowDown", "comfort-4"), ("ArrowDown", "survey-send"))
        await nothing_under_the_footer(page)
        await save_screenshot(page, f"tv-survey{suffix}", tmp_path)
        await page.keyboard.press("Escape")

        # Phone: nothing to press, so nothing takes the focus.
        await open_tile(page, "phone")
        await page.wait_for_selector("body[data-view='phone']")
        phone = ".view[data-view='phone']"
        assert (
            await page.eval_on_selector_all(
                f"{phone} button, {phone} [tabindex], {phone} input", "es => es.length"
            )
            == 0
        )
        assert await focused(page) == "body"
        await walk(page, ("ArrowDown", "body"), ("ArrowRight", "body"))
        await save_screenshot(page, f"tv-phone{suffix}", tmp_path)
        await page.keyboard.press("Backspace")
        await page.wait_for_selector("body[data-view='home']")
        assert await focused(page) == "phone"

        # TV: the channel list; the picture is not a stop for the remote.
        await open_tile(page, "tv")
        await page.wait_for_selector("body[data-view='tv']")
        assert await focused(page) == "1"
        await walk(page, ("ArrowDown", "2"), ("ArrowRight", "2"), ("ArrowUp", "1"))
        assert "101" not in await page.inner_text(".view[data-view='tv'] .channels")
        await page.keyboard.press("Escape")

        # Radio: its own page, the radio stations of the lineup.
        await open_tile(page, "radio")
        await page.wait_for_selector("body[data-view='radio']")
        assert await focused(page) == "101"
        await walk(page, ("ArrowDown", "102"), ("ArrowDown", "103"), ("ArrowDown", "103"))
        await page.keyboard.press("Enter")  # no stream configured for it: no signal
        await page.wait_for_selector(".player[data-kind='radio'][data-signal='none']")
        assert "Pas de signal" in await page.inner_text(".player[data-kind='radio'] .no-signal")
        await nothing_under_the_footer(page)
        await save_screenshot(page, f"tv-radio{suffix}", tmp_path)
        await page.keyboard.press("Escape")

        # Information: one page under another.
        await open_tile(page, "info")
        await page.wait_for_selector("body[data-view='info']")
        assert await focused(page) == "visits"
        await walk(page, ("ArrowDown", "wifi"), ("ArrowDown", "wifi"))
        await page.keyboard.press("Enter")
        await page.wait_for_selector("#info-wifi:not([hidden])")
        await walk(page, ("ArrowUp", "visits"))
        await page.keyboard.press("Escape")

        # Language: the current one has the focus; after a change, the page comes back on it.
        await open_tile(page, "settings")
        await page.wait_for_selector("body[data-view='settings']")
        assert await focused(page) == "fr"
        await walk(page, ("ArrowRight", "en"), ("ArrowRight", "de"), ("ArrowRight", "large-text"))
        await walk(page, ("ArrowLeft", "de"))
        await page.keyboard.press("Enter")
        await page.wait_for_selector("html[lang='de'] body[data-view='settings']")
        assert await focused(page) == "de"
        assert await page.text_content(".hello") == "Guten Tag JEANNE"
        await nothing_under_the_footer(page)
        await save_screenshot(page, f"tv-settings{suffix}", tmp_path)


def wav_tone(seconds: float = 30.0, rate: int = 8000) -> bytes:
    """A quiet square tone: a stream any browser plays, made here (no file in the repo)."""
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(1)
        w.setframerate(rate)
        w.writeframes(bytes(96 if (i // 20) % 2 else 160 for i in range(int(seconds * rate))))
    return out.getvalue()


@pytest.fixture
async def station() -> AsyncIterator[str]:
    """A radio station on 127.0.0.1: /live.wav plays, /down.wav answers 404."""
    tone = wav_tone()

    async def live(_: web.Request) -> web.Response:
        return web.Response(body=tone, content_type="audio/wav")

    app = web.Application()
    app.router.add_get("/live.wav", live)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def test_a_station_that_plays_and_one_that_fails(
    tvlab: TvLab, station: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lineup = [
        {"number": 1, "name": "Hospital information"},
        {"number": 2, "name": "Broken TV", "url": f"{station}/down.webm"},
        {"number": 101, "name": "Live radio", "url": f"{station}/live.wav", "kind": "radio"},
        {"number": 102, "name": "Silent radio", "url": f"{station}/down.wav", "kind": "radio"},
    ]
    monkeypatch.setenv("WARDLINE_BEDSIDE_CHANNEL_LINEUP", json.dumps(lineup))
    async with launch_chromium() as browser:
        page = await enrolled_tv(browser, tvlab)
        await open_tile(page, "radio")
        await page.wait_for_selector("body[data-view='radio']")
        await page.keyboard.press("Enter")
        await page.wait_for_selector(".player[data-kind='radio'][data-signal='ok']")
        assert not await page.is_visible(".player[data-kind='radio'] .no-signal")
        await page.keyboard.press("ArrowDown")
        await page.keyboard.press("Enter")
        await page.wait_for_selector(".player[data-kind='radio'][data-signal='none']")
        assert await page.is_visible(".player[data-kind='radio'] .no-signal")
        await page.keyboard.press("PageDown")  # back to the live one with the channel key
        await page.wait_for_selector(".player[data-kind='radio'][data-signal='ok']")
        await page.keyboard.press("Escape")

        await open_tile(page, "tv")
        await page.wait_for_selector("body[data-view='tv']")
        await page.keyboard.press("ArrowDown")
        await page.keyboard.press("Enter")
        await page.wait_for_selector(".player[data-kind='tv'][data-signal='none']")
        text = await page.inner_text(".player[data-kind='tv'] .no-signal")
        assert "Pas de signal" in text and "ne peut pas être reçue" in text
        await save_screenshot(page, "tv-no-signal", tmp_path)
