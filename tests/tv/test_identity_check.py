"""A bed whose EHR record cannot be matched for certain: the nurse sees "identity to be
checked" and nothing clinical, writes are refused, one audit row, an alert for the admins."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from ehr_bridge.models import EhrOutbox
from ehr_bridge.sandbox.corpus import IPP_SYSTEM
from tests.tv.conftest import BADGE, IPP, PASSWORD, PIN, TvLab
from tests.tv.test_tv_browser import enrolled_tv, staff_badge_in
from tests.web.browser import launch_chromium, save_screenshot
from wardline import appkeys as k
from wardline.db.models import AuditEvent
from wardline.domain.commands import SYSTEM_ADMIN_CLI


async def test_a_duplicate_record_in_the_ehr_stops_the_bedside(tvlab: TvLab) -> None:
    # The EHR now holds a second Patient with the bed patient's IPP in the hospital's system.
    tvlab.sandbox.store.add(
        {
            "resourceType": "Patient",
            "id": "duplicate",
            "identifier": [{"system": IPP_SYSTEM, "value": IPP}],
            "birthDate": "1952-03-14",
        }
    )
    tv = await tvlab.terminal()
    await tv.json("POST", "/api/v1/tv/nurse/signin", {"badge": BADGE, "pin": PIN})
    for _ in range(2):
        refused = await tv.call("GET", "/api/v1/tv/nurse/record")
        body = await refused.json()
        assert (refused.status, body["error"]) == (409, "ehr.identity_to_be_checked")
        assert body["details"]["reason"] == "patient.several"
        assert "MARTIN" not in await refused.text()
    vitals = await tv.call("POST", "/api/v1/tv/nurse/vitals", {"values": {"temperature": 37.2}})
    assert (vitals.status, (await vitals.json())["error"]) == (409, "ehr.identity_to_be_checked")
    db = tvlab.app[k.DATABASE]
    async with db.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(EhrOutbox)) == 0
        audited = await s.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "ehr.identity_to_be_checked")
        )
    assert audited == 1
    await tvlab.app[k.STAFF].add_user(
        SYSTEM_ADMIN_CLI, username="ada", display_name="Ada", roles={"admin"}, password=PASSWORD
    )
    admin = tvlab.browser()
    await admin.sign_in("ada")
    alerts = (await admin.json("GET", "/api/v1/admin/ehr/identity-alerts"))["alerts"]
    assert [(a["visit_number"], a["reason"]) for a in alerts] == [("V100001", "patient.several")]
    page = await admin.call("GET", "/admin")
    assert "Identité à vérifier" in await page.text()


@pytest.mark.browser
async def test_the_nurse_page_says_identity_to_be_checked_in_its_language(
    tvlab: TvLab, tmp_path: Path
) -> None:
    tvlab.sandbox.store.add(
        {
            "resourceType": "Patient",
            "id": "duplicate",
            "identifier": [{"system": IPP_SYSTEM, "value": IPP}],
            "birthDate": "1952-03-14",
        }
    )
    async with launch_chromium() as browser:
        page = await enrolled_tv(browser, tvlab)
        await staff_badge_in(page, BADGE, PIN)
        notice = await page.wait_for_selector("#banner .identity-check[role='alert']")
        text = await notice.text_content() or ""
        assert text.startswith("Identité à vérifier")
        assert "MARTIN" not in (await page.text_content("#banner") or "")
        assert (await page.text_content("#schedule")) == ""
        assert not await page.is_visible("#admin-form")
        assert not await page.is_visible("#vitals-form")
        await save_screenshot(page, "nurse-identity-to-be-checked", tmp_path)
