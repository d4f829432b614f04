"""The console an operator can trust, in a real browser against the PBX simulator: the keys act
on the operator's own call or the row chosen, never on a guess; a call that is not on the
operator's phone is hung up only after a confirmation; fields are emptied after each action;
losing the PBX shows at once and clears by itself; one column on a phone-sized screen."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.web.browser import launch_chromium, save_screenshot
from tests.web.conftest import WebLab
from tests.web.test_browser import sign_in

pytestmark = pytest.mark.browser


async def test_keys_act_on_my_call_and_ask_before_cutting_another(
    consolelab: WebLab, tmp_path: Path
) -> None:
    pbx = consolelab.pbx
    assert pbx is not None
    async with launch_chromium() as browser:
        page = await browser.new_page(viewport={"width": 1400, "height": 900}, locale="fr-FR")
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await sign_in(page, consolelab.base, "opal", "9000")
        await page.wait_for_selector('#live-state[data-state="up"]')

        pbx.dial("2900", "2101")  # the nurse station calls a bed: not the operator's call
        pbx.answer("2101")
        pbx.external_call(to="8000", caller="0612345678", name="Camille Martin")
        await page.wait_for_selector('#queue tr[data-phase="queued"]')
        await page.keyboard.press("a")
        pbx.answer("9000")
        mine = page.locator('#calls tr[data-mine="true"]')
        await mine.wait_for()
        assert "Camille Martin" in await mine.inner_text()
        assert await page.locator("#calls tr[data-call]").count() == 2

        # T with a number, then the field is empty again
        await page.keyboard.press("t")
        await page.keyboard.type("2003")
        await page.keyboard.press("Escape")
        await page.keyboard.press("p")  # park: my call, not the patients'
        await page.wait_for_selector("#parked li[data-call]")
        assert await page.locator("#calls tr[data-call]").count() == 1
        assert "Camille" not in await page.inner_text("#calls")

        # the patients' call is chosen with the arrows: H asks first, H again cuts it
        await page.keyboard.press("ArrowDown")
        await page.keyboard.press("h")
        await page.wait_for_selector('#status-line[data-kind="error"]')
        assert "H" in await page.inner_text("#status-line")
        assert await page.locator("#calls tr[data-call]").count() == 1
        await page.keyboard.press("h")
        await page.wait_for_selector("#calls tr[data-call]", state="detached")
        await page.wait_for_selector('.lamp[data-ext="2101"][data-state="idle"]')
        assert await page.locator("#parked li[data-call]").count() == 1  # the parked caller
        assert errors == []


async def test_losing_the_pbx_shows_at_once_and_clears(consolelab: WebLab, tmp_path: Path) -> None:
    pbx = consolelab.pbx
    assert pbx is not None
    port = pbx.port
    async with launch_chromium() as browser:
        page = await browser.new_page(viewport={"width": 1400, "height": 900}, locale="de-DE")
        await page.goto(consolelab.base + "/signin")
        await sign_in(page, consolelab.base, "opal", "9000")
        await page.wait_for_selector('#live-state[data-state="up"]')
        assert await page.locator("#pbx-banner").is_hidden()
        await pbx.stop()
        banner = page.locator("#pbx-banner")
        await banner.wait_for(state="visible", timeout=5000)
        assert await page.locator("#answer-next").is_disabled()
        assert "body" and await page.evaluate("document.body.classList.contains('pbx-down')")
        await save_screenshot(page, "console-pbx-down", tmp_path)
        await pbx.start("127.0.0.1", port)
        await banner.wait_for(state="hidden", timeout=30000)
        assert await page.locator("#answer-next").is_enabled()


async def test_console_fits_a_phone_screen(consolelab: WebLab, tmp_path: Path) -> None:
    async with launch_chromium() as browser:
        page = await browser.new_page(viewport={"width": 390, "height": 844}, locale="en-GB")
        await sign_in(page, consolelab.base, "opal", "9000")
        await page.wait_for_selector('#live-state[data-state="up"]')
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, width
        await save_screenshot(page, "console-390", tmp_path)
