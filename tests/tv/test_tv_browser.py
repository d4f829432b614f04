"""The TV in a real browser (Debian's chromium through Playwright), driven like a remote
control: arrow keys, OK (Enter) and Back (Escape) only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.tv.conftest import BED, TvLab
from tests.web.browser import launch_chromium, save_screenshot
from wardline import appkeys as k
from wardline.domain.call_events import CallRinging

VIEWPORT = {"width": 1920, "height": 1080}


async def enrolled_tv(browser: Any, lab: TvLab) -> Any:
    page = await browser.new_page(viewport=VIEWPORT, timezone_id="Europe/Paris")
    await page.goto(lab.base + "/tv")
    assert page.url.endswith("/tv/enroll")
    await page.fill("#credential", lab.credential)
    await page.keyboard.press("Enter")
    await page.wait_for_url(lab.base + "/tv")
    await page.wait_for_selector("body[data-view='home']")
    return page


async def active(page: Any, attribute: str) -> str | None:
    value: str | None = await page.evaluate(
        f"document.activeElement?.getAttribute('{attribute}') ?? null"
    )
    return value


async def open_tile(page: Any, name: str) -> None:
    """From home, move with the arrows to the tile and press OK."""
    order = await page.eval_on_selector_all(".tile", "ts => ts.map(t => t.dataset.go || t.id)")
    for _ in range(len(order) * 2):
        here = await page.evaluate("document.activeElement.dataset.go || document.activeElement.id")
        if here == name:
            break
        await page.keyboard.press(
            "ArrowRight" if order.index(name) > order.index(here) else "ArrowLeft"
        )
    await page.keyboard.press("Enter")


async def staff_badge_in(page: Any, badge: str, pin: str) -> None:
    """From home: the Staff tile, then the badge and PIN typed and sent."""
    await open_tile(page, "staff")
    await page.wait_for_selector("body[data-view='staff']")
    await page.fill("#badge", badge)
    await page.fill("#pin", pin)
    await page.keyboard.press("Enter")


async def press_until(page: Any, key: str, attribute: str, value: str, limit: int = 20) -> None:
    for _ in range(limit):
        if await active(page, attribute) == value:
            return
        await page.keyboard.press(key)
    raise AssertionError(f"no focusable element with {attribute}={value}")


async def test_remote_control_through_every_menu(tvlab: TvLab, tmp_path: Path) -> None:
    async with launch_chromium() as browser:
        page = await enrolled_tv(browser, tvlab)
        assert await page.text_content(".hello") == "Bonjour JEANNE"
        assert BED in (await page.text_content(".where") or "")
        assert await page.evaluate("document.activeElement.dataset.go") == "tv"
        await save_screenshot(page, "tv-home", tmp_path)

        await open_tile(page, "tv")
        await page.wait_for_selector("body[data-view='tv']")
        await page.keyboard.press("Enter")
        await page.wait_for_selector("body[data-channel='1']")
        await page.keyboard.press("PageUp")
        await page.wait_for_selector("body[data-channel='2']")
        await page.keyboard.press("Escape")
        await page.wait_for_selector("body[data-view='home']")

        await open_tile(page, "phone")
        await page.wait_for_selector("body[data-view='phone']")
        assert await page.get_attribute("#line-state", "data-state") == "active"
        await page.keyboard.press("Backspace")
        await page.wait_for_selector("body[data-view='home']")

        await open_tile(page, "meals")
        await page.wait_for_selector("body[data-view='meals']")
        dishes = await page.eval_on_selector_all(".dish", "ds => ds.map(d => d.dataset.dish)")
        assert dishes == ["L2", "L3", "D2", "D3"]  # no gluten for this patient
        await press_until(page, "ArrowDown", "data-dish", "L3")
        await page.keyboard.press("Enter")
        await page.wait_for_selector(".dish[data-dish='L3'][aria-pressed='true']")
        # Dinner is to the right of lunch (by position, not in list order).
        await press_until(page, "ArrowRight", "data-dish", "D3")
        await press_until(page, "ArrowUp", "data-dish", "D2")
        await page.keyboard.press("Enter")
        await page.wait_for_selector(".dish[data-dish='D2'][aria-pressed='true']")
        await save_screenshot(page, "tv-meals", tmp_path)
        await page.keyboard.press("Escape")

        await open_tile(page, "info")
        await page.wait_for_selector("body[data-view='info']")
        await page.keyboard.press("Enter")
        await page.wait_for_selector("#info-visits:not([hidden])")
        await page.keyboard.press("Escape")

        await open_tile(page, "survey")
        await page.wait_for_selector("body[data-view='survey']")
        await press_until(page, "ArrowRight", "data-score", "4")
        await page.keyboard.press("Enter")
        await press_until(page, "ArrowDown", "id", "survey-send")
        await page.keyboard.press("Enter")
        await page.wait_for_selector("body[data-survey='sent']")
        await page.keyboard.press("Escape")

        await open_tile(page, "nurse-call")
        await page.wait_for_selector("body[data-nurse-call='open']")
        [call] = await tvlab.app[k.NURSE_CALLS].open_calls("CARDIO")
        await tvlab.app[k.NURSE_CALLS].acknowledge(call.call_id, "nina")
        await page.wait_for_selector("body[data-nurse-call='acknowledged']")

        tvlab.app[k.BUS].publish(
            CallRinging(
                call_id="c-1",
                caller_number="0611223344",
                caller_name="",
                called_extension="2101",
                ringing_extension=await bed_extension(tvlab),
            )
        )
        await page.wait_for_selector("#call-banner:not([hidden])")
        assert "0611223344" in (await page.text_content("#call-banner") or "")

        await open_tile(page, "settings")
        await page.wait_for_selector("body[data-view='settings']")
        await press_until(page, "ArrowRight", "id", "large-text")
        await page.keyboard.press("Enter")
        await page.wait_for_selector("body.large")
        await press_until(page, "ArrowLeft", "data-lang", "en")
        await page.keyboard.press("Enter")
        await page.wait_for_selector("html[lang='en']")
        assert await page.text_content(".hello") == "Hello JEANNE"
        assert await page.evaluate("document.body.classList.contains('large')")


async def bed_extension(lab: TvLab) -> str:
    stay = await lab.app[k.STAYS].stay_for_bed(BED)
    assert stay is not None and stay.bed is not None
    return stay.bed.extension
