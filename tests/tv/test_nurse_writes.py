"""The nurse's writes over real HTTP, from the bed's terminal session: one record per dose
under ten concurrent submissions, "not given" with its reason, the dose checked against the
order's text, the EHR down or refusing the service's credentials answered 503 in the page's
language with the server's reason kept for the admin, and the schedule's times written by
the server in the ward's zone."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from tests.services import wait_until
from tests.tv.conftest import BADGE, IPP, PASSWORD, PIN, TOKEN, TvLab
from tests.web.conftest import Browser
from wardline import appkeys as k
from wardline.domain.commands import SYSTEM_ADMIN_CLI

BISOPROLOL = "mr-100001-1"  # 08:00 in Paris; the lab's clock is 08:10 in Paris


async def nurse_at_the_bed(lab: TvLab, lang: str = "fr") -> Browser:
    tv = await lab.terminal()
    chosen = await tv.call("POST", "/api/v1/tv/language", {"lang": lang})
    assert chosen.status == 204
    await tv.json("POST", "/api/v1/tv/nurse/signin", {"badge": BADGE, "pin": PIN})
    return tv


async def dose(tv: Browser, order: str) -> dict[str, Any]:
    record = await tv.json("GET", "/api/v1/tv/nurse/record")
    found: dict[str, Any] = next(d for d in record["schedule"] if d["order_id"] == order)
    return found


def administration(due: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {
        "order_id": due["order_id"],
        "due_at": due["due_at"],
        "wristband": IPP,
        "medication_code": due["medication"],
        "dose_value": "1",
        "dose_unit": "{tbl}",
        "dose_confirmed": True,
        **changes,
    }


def administrations(lab: TvLab) -> list[dict[str, Any]]:
    return lab.sandbox.store.all("MedicationAdministration")


async def test_ten_concurrent_submissions_record_one_dose(tvlab: TvLab) -> None:
    tv = await nurse_at_the_bed(tvlab)
    due = await dose(tv, BISOPROLOL)
    assert due["state"] == "due"
    body = administration(due)
    replies = await asyncio.gather(
        *(tv.call("POST", "/api/v1/tv/nurse/administrations", body) for _ in range(10))
    )
    statuses = sorted(r.status for r in replies)
    assert statuses == [201] + [409] * 9
    refusals = [await r.json() for r in replies if r.status == 409]
    assert {r["error"] for r in refusals} <= {
        "ehr.dose_already_recorded",
        "bedside.dose_already_recorded",
    }
    assert all(r["message"].startswith("Cette dose a déjà été enregistrée") for r in refusals)
    await wait_until(lambda: len(administrations(tvlab)) == 1, timeout=10)
    assert (await dose(tv, BISOPROLOL))["state"] == "given"
    # Shown as given: a later attempt is refused too, and nothing more reaches the EHR.
    again = await tv.call("POST", "/api/v1/tv/nurse/administrations", body)
    assert again.status == 409
    await asyncio.sleep(0.3)
    [written] = administrations(tvlab)
    assert written["status"] == "completed"
    assert written["dosage"]["dose"]["code"] == "{tbl}"
    assert written["dosage"]["text"] == "1 comprimé"  # the order's text the nurse confirmed
    assert written["performer"][0]["actor"]["display"] == "Nina Rossi"
    assert written["medicationReference"] == {"reference": "Medication/med-100001-1"}


async def test_not_given_with_its_reason_is_recorded_and_shown(tvlab: TvLab) -> None:
    tv = await nurse_at_the_bed(tvlab, "en")
    due = await dose(tv, BISOPROLOL)
    missing = await tv.call(
        "POST",
        "/api/v1/tv/nurse/administrations",
        administration(due, given=False, reason="other"),
    )
    assert missing.status == 422
    assert (await missing.json())["message"] == "Say why in words."
    reply = await tv.call(
        "POST",
        "/api/v1/tv/nurse/administrations",
        administration(due, given=False, reason="refused", reason_text="nausées"),
    )
    assert reply.status == 201, await reply.text()
    await wait_until(lambda: len(administrations(tvlab)) == 1, timeout=10)
    [written] = administrations(tvlab)
    assert written["status"] == "not-done"
    assert written["statusReason"][0]["coding"][0]["code"] == "refused"
    assert "nausées" in written["statusReason"][0]["text"]
    shown = await dose(tv, BISOPROLOL)
    assert shown["state"] == "not_given"


async def test_a_typed_dose_must_be_confirmed_against_the_orders_text(tvlab: TvLab) -> None:
    tv = await nurse_at_the_bed(tvlab, "de")
    due = await dose(tv, BISOPROLOL)
    reply = await tv.call(
        "POST", "/api/v1/tv/nurse/administrations", administration(due, dose_confirmed=False)
    )
    assert reply.status == 422
    refusal = await reply.json()
    assert refusal["error"] == "bedside.confirm_dose"
    assert "1 comprimé" in refusal["message"] and "bestätigen" in refusal["message"]
    assert administrations(tvlab) == []


async def test_the_schedule_is_written_in_the_wards_zone(tvlab: TvLab) -> None:
    tv = await nurse_at_the_bed(tvlab)
    record = await tv.json("GET", "/api/v1/tv/nurse/record")
    assert record["zone"] == "Europe/Paris"
    paracetamol = [d for d in record["schedule"] if d["order_id"] == "mr-100001-0"]
    # In November Paris is UTC+1: the 00:00 dose is 23:00 UTC the day before.
    assert [d["due_local"] for d in paracetamol] == ["00:00", "06:00", "12:00", "18:00"]
    midnight = datetime.fromisoformat(paracetamol[0]["due_at"])
    assert midnight == datetime(2026, 11, 21, 23, 0, tzinfo=UTC)
    bisoprolol = next(d for d in record["schedule"] if d["order_id"] == BISOPROLOL)
    assert bisoprolol["due_local"] == "08:00" and bisoprolol["window_local"] == "07:00-09:00"


async def test_ehr_down_is_503_in_the_pages_language(tvlab: TvLab) -> None:
    await tvlab.sandbox.stop()  # nothing cached yet: the record cannot be shown
    for lang, words in (
        ("fr", "Le dossier patient est injoignable"),
        ("en", "The health record cannot be reached"),
        ("de", "Die Patientenakte ist nicht erreichbar"),
    ):
        tv = await nurse_at_the_bed(tvlab, lang)
        reply = await tv.call("GET", "/api/v1/tv/nurse/record")
        assert reply.status == 503
        refusal = await reply.json()
        assert refusal["error"] == "fhir.unreachable"
        assert refusal["message"].startswith(words), refusal["message"]


async def test_credentials_refused_are_503_and_the_reason_is_in_the_admin_outbox(
    tvlab: TvLab,
) -> None:
    tv = await nurse_at_the_bed(tvlab)
    tvlab.sandbox.auth.static = "rotated-on-the-server"  # the service's token is now wrong
    reply = await tv.call("GET", "/api/v1/tv/nurse/record")
    assert reply.status == 503
    refusal = await reply.json()
    assert refusal["error"] == "fhir.unauthorized"
    assert refusal["message"].startswith("Le dossier patient refuse les identifiants")
    tvlab.sandbox.auth.static = TOKEN
    due = await dose(tv, BISOPROLOL)  # the record is cached from here
    tvlab.sandbox.auth.static = "rotated-again"
    # The write still queues (nothing acknowledged is lost) and waits for the EHR.
    reply = await tv.call("POST", "/api/v1/tv/nurse/administrations", administration(due))
    assert reply.status == 201
    await tvlab.app[k.STAFF].add_user(
        SYSTEM_ADMIN_CLI, username="root", display_name="Root", roles={"admin"}, password=PASSWORD
    )
    admin = tvlab.browser()
    await admin.sign_in("root")

    async def last_error() -> str:
        items = (await admin.json("GET", "/api/v1/admin/outbox"))["items"]
        return str(items[0]["last_error"] or "") if items else ""

    for _ in range(200):
        if await last_error():
            break
        await asyncio.sleep(0.05)
    # The server's own reason, for the admin (the nurse read a message in her language).
    assert "missing or invalid bearer token" in await last_error()
    assert administrations(tvlab) == []
