"""In Chromium: when the nurse leaves the staff view, nothing clinical stays reachable from the
patient's TV (the staff tile, the browser's history, the API called with the TV's own
credential); refusals read in the page's language, an old "wrong PIN" goes once she is in, and
messages stay in sight above the keys' footer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select

from kiosk_ui.component import SESSION_COOKIE
from kiosk_ui.models import BedsideNurseSession
from tests.services import wait_until
from tests.tv.conftest import BADGE, IPP, PIN, TvLab
from tests.tv.test_nurse_browser import sign_in_at_the_bed
from tests.tv.test_tv_browser import enrolled_tv, open_tile
from tests.web.browser import launch_chromium, save_screenshot
from wardline import appkeys as k

RECORD = """async () => {
  const res = await fetch('/api/v1/tv/nurse/record', {credentials: 'same-origin'});
  return [res.status, await res.text()];
}"""


async def open_sessions(lab: TvLab) -> int:
    async with lab.app[k.DATABASE].sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(BedsideNurseSession)) or 0)


def no_session(lab: TvLab) -> Any:
    async def check() -> bool:
        return await open_sessions(lab) == 0

    return check


async def nothing_clinical(page: Any, lab: TvLab) -> None:
    html = await page.content()
    assert "MARTIN" not in html and IPP not in html
    assert await page.text_content("#schedule") == ""
    status, text = await page.evaluate(RECORD)  # the TV's own cookie, from the page itself
    assert status == 403 and "MARTIN" not in text


async def in_sight(page: Any, selector: str) -> None:
    """Shown inside the view, above the keys' footer."""
    box = await page.evaluate(
        """s => {
          const r = document.querySelector(s).getBoundingClientRect();
          const main = document.getElementById('main').getBoundingClientRect();
          const foot = document.querySelector('footer.keys').getBoundingClientRect();
          return {top: r.top, bottom: r.bottom, h: r.height, mainTop: main.top, foot: foot.top};
        }""",
        selector,
    )
    assert box["h"] > 0 and box["top"] >= box["mainTop"] - 1 and box["bottom"] <= box["foot"] + 1


@pytest.mark.parametrize("key", ["Escape", "Home"])
async def test_leaving_after_a_sign_in_leaves_no_clinical_content_reachable(
    tvlab: TvLab, key: str
) -> None:
    async with launch_chromium() as browser:
        page = await enrolled_tv(browser, tvlab)
        await sign_in_at_the_bed(page)
        assert "MARTIN" in (await page.text_content("#banner") or "")
        [cookie] = [c for c in await page.context.cookies() if c["name"] == SESSION_COOKIE]

        await page.keyboard.press(key)  # Back (or Home) on the remote
        await page.wait_for_selector("body[data-view='home'][data-nurse='out']")
        assert await page.text_content("#status-line") == "Déconnecté"
        await wait_until(no_session(tvlab), timeout=10)
        await nothing_clinical(page, tvlab)

        # The patient's "Staff" tile: the sign-in form, never the panel.
        await open_tile(page, "staff")
        await page.wait_for_selector("body[data-view='staff'] #badge-form:not([hidden])")
        assert not await page.is_visible("#nurse-panel")
        await nothing_clinical(page, tvlab)

        # The browser's history: back to where the TV came from, and forward again.
        await page.go_back()
        await page.go_forward()
        await page.wait_for_selector("body[data-view='home']")
        await nothing_clinical(page, tvlab)

        # A copy of the cookie taken while she was signed in: refused too.
        async with aiohttp.ClientSession() as http:
            response = await http.get(
                tvlab.base + "/api/v1/tv/nurse/record",
                headers={"Cookie": f"{SESSION_COOKIE}={cookie['value']}"},
            )
            assert response.status == 403


async def test_refusals_in_french_and_an_old_error_cleared(tvlab: TvLab, tmp_path: Path) -> None:
    async with launch_chromium() as browser:
        page = await enrolled_tv(browser, tvlab)
        await open_tile(page, "staff")
        await page.wait_for_selector("body[data-view='staff']")
        await page.keyboard.type(BADGE)
        await page.keyboard.press("ArrowDown")
        await page.keyboard.type("0000")
        await page.keyboard.press("Enter")
        await page.wait_for_selector("#badge-result[data-error='auth.failed']")
        assert await page.text_content("#badge-result") == "Badge inconnu ou code PIN erroné."
        await in_sight(page, "#badge-result")
        await save_screenshot(page, "nurse-wrong-pin", tmp_path)

        await page.focus("#badge")
        await page.keyboard.type(BADGE)
        await page.keyboard.press("ArrowDown")
        await page.keyboard.type(PIN)
        await page.keyboard.press("Enter")
        await page.wait_for_selector("body[data-nurse='in'] #schedule tr")
        assert await page.text_content("#badge-result") == ""  # no "wrong PIN" in red any more
        assert await page.text_content("#status-line") == ""

        # A range error, in French, at the vital signs form at the bottom of the panel.
        await page.fill("input[name='heart_rate']", "400")
        await page.focus("input[name='heart_rate']")
        await page.keyboard.press("Enter")
        await page.wait_for_selector("#vitals-result[data-error='vitals.implausible']")
        text = await page.text_content("#vitals-result")
        assert text == "Fréquence cardiaque 400 est hors de 20–250 : vérifiez la mesure."
        await in_sight(page, "#vitals-result")
        await save_screenshot(page, "nurse-vitals-refused", tmp_path)

        await page.fill("input[name='heart_rate']", "72")
        await page.focus("input[name='heart_rate']")
        await page.keyboard.press("Enter")
        await page.wait_for_selector("#vitals-result[data-kind='ok']")
        await in_sight(page, "#vitals-result")
        assert await page.get_attribute("#vitals-result", "data-error") is None
