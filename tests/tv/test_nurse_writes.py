"""The nurse's writes over real HTTP, from the bed's terminal session: one record per dose
under ten concurrent submissions, "not given" with its reason, the dose checked against the
order's text, the EHR down or refusing the service's credentials answered 503 in the page's
language with the server's reason kept for the admin, and the schedule's times written by
the server in the ward's zone."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ehr_bridge.sandbox.server import RunningSandbox
from tests.conftest import Hospital
from tests.services import wait_until
from tests.tv.conftest import BADGE, IPP, PASSWORD, PIN, TOKEN, Serve, TvLab, open_lab
from tests.web.conftest import Browser
from wardline import appkeys as k
from wardline.domain.commands import SYSTEM_ADMIN_CLI

UCUM = "http://unitsofmeasure.org"
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


async def test_vital_signs_with_a_blood_pressure_panel(tvlab: TvLab) -> None:
    tv = await nurse_at_the_bed(tvlab)
    half = await tv.call("POST", "/api/v1/tv/nurse/vitals", {"values": {"systolic": 120}})
    assert half.status == 422
    assert (await half.json())["message"].startswith("Une pression artérielle a ses valeurs")
    before = len(tvlab.sandbox.store.all("Observation"))
    values = {"systolic": 121, "diastolic": 79, "respiratory_rate": 16}
    reply = await tv.call("POST", "/api/v1/tv/nurse/vitals", {"values": values})
    assert reply.status == 201
    assert len((await reply.json())["business_ids"]) == 2
    await wait_until(lambda: len(tvlab.sandbox.store.all("Observation")) == before + 2, timeout=10)
    codes = {
        o["code"]["coding"][0]["code"]: o
        for o in tvlab.sandbox.store.all("Observation")
        if o.get("identifier")
    }
    assert [c["valueQuantity"]["value"] for c in codes["85354-9"]["component"]] == [121, 79]
    assert codes["9279-1"]["valueQuantity"]["code"] == "/min"


async def test_a_site_in_another_zone_gets_its_own_time(
    hospital: Hospital, tmp_path: Path, sandbox: RunningSandbox, serve_app: Serve
) -> None:
    """A site of the group in French Guiana (UTC-3, no DST): its TV clock and its schedule
    are in its own zone, whatever the default."""
    lab = await open_lab(
        hospital, tmp_path, sandbox, serve_app, site_timezones={"NORD": "America/Cayenne"}
    )
    try:
        tv = await nurse_at_the_bed(lab)
        clock = await tv.json("GET", "/api/v1/tv/clock")
        assert clock["zone"] == "America/Cayenne"
        assert clock["text"] == "dimanche 22 novembre 04:10"  # 07:10 UTC
        record = await tv.json("GET", "/api/v1/tv/nurse/record")
        assert record["zone"] == "America/Cayenne"
        paracetamol = [d for d in record["schedule"] if d["order_id"] == "mr-100001-0"]
        assert [d["due_local"] for d in paracetamol] == ["00:00", "06:00", "12:00", "18:00"]
        first = datetime.fromisoformat(paracetamol[0]["due_at"])
        assert first == datetime(2026, 11, 22, 3, 0, tzinfo=UTC)
    finally:
        for b in lab.browsers:
            await b.close()


async def test_a_dose_whose_write_the_ehr_refused_is_never_shown_due_again(tvlab: TvLab) -> None:
    tv = await nurse_at_the_bed(tvlab)
    due = await dose(tv, BISOPROLOL)
    del tvlab.sandbox.store.resources["MedicationRequest"][BISOPROLOL]  # the order is gone
    reply = await tv.call("POST", "/api/v1/tv/nurse/administrations", administration(due))
    assert reply.status == 201
    for _ in range(200):
        record = await tv.json("GET", "/api/v1/tv/nurse/record")
        if any(w["state"] == "failed" for w in record["writes"]):
            break
        await asyncio.sleep(0.05)
    [failed] = [w for w in record["writes"] if w["state"] == "failed"]
    assert "is not on the server" in (failed["last_error"] or "")
    shown = next(d for d in record["schedule"] if d["order_id"] == BISOPROLOL)
    assert shown["state"] == "given"
    again = await tv.call("POST", "/api/v1/tv/nurse/administrations", administration(due))
    assert again.status == 409


async def test_a_structured_dose_is_checked_on_value_and_unit(tvlab: TvLab) -> None:
    order = tvlab.sandbox.store.get("MedicationRequest", BISOPROLOL)
    assert order is not None
    order["dosageInstruction"][0]["doseAndRate"] = [
        {"doseQuantity": {"value": 5, "unit": "mg", "system": UCUM, "code": "mg"}}
    ]
    tv = await nurse_at_the_bed(tvlab)
    due = await dose(tv, BISOPROLOL)
    assert (due["dose_value"], due["dose_unit"], due["dose_ordered"]) == ("5", "mg", "5 mg")
    for value, unit, error in (
        ("50", "mg", "bedside.wrong_dose"),
        ("5", "mL", "bedside.wrong_unit"),
    ):
        reply = await tv.call(
            "POST",
            "/api/v1/tv/nurse/administrations",
            administration(due, dose_value=value, dose_unit=unit, dose_confirmed=False),
        )
        assert reply.status == 422
        refusal = await reply.json()
        assert refusal["error"] == error
    assert refusal["message"] == "L'unité mL ne peut pas être comparée aux 5 mg prescrits."
    reply = await tv.call(
        "POST",
        "/api/v1/tv/nurse/administrations",
        administration(due, dose_value="0.005", dose_unit="g", dose_confirmed=False),
    )
    assert reply.status == 201, await reply.text()
    await wait_until(lambda: len(administrations(tvlab)) == 1, timeout=10)
    [written] = administrations(tvlab)
    assert written["dosage"]["dose"] == {
        "value": 0.005,
        "unit": "g",
        "system": UCUM,
        "code": "g",
    }
    assert "text" not in written["dosage"]  # nothing was confirmed against a text


async def refused_write(lab: TvLab) -> tuple[Browser, Browser, str, dict[str, Any]]:
    """A dose recorded at the bed whose order the EHR no longer has: the write is refused
    for good. Returns the nurse's TV, a signed-in admin, the write's id and the order."""
    tv = await nurse_at_the_bed(lab)
    due = await dose(tv, BISOPROLOL)
    order = lab.sandbox.store.resources["MedicationRequest"].pop(BISOPROLOL)
    reply = await tv.call("POST", "/api/v1/tv/nurse/administrations", administration(due))
    assert reply.status == 201
    [business_id] = (await reply.json())["business_ids"]
    await lab.app[k.STAFF].add_user(
        SYSTEM_ADMIN_CLI, username="root", display_name="Root", roles={"admin"}, password=PASSWORD
    )
    admin = lab.browser()
    await admin.sign_in("root")
    await wait_until(lambda: _is(lab, business_id, "failed"), timeout=10)
    return tv, admin, business_id, order


async def outbox_state(lab: TvLab, business_id: str) -> str | None:
    from sqlalchemy import select

    from ehr_bridge.models import EhrOutbox

    async with lab.app[k.DATABASE].sessions() as s:
        state = await s.scalar(
            select(EhrOutbox.state).where(EhrOutbox.business_id == business_id)
        )
        return str(state) if state is not None else None


async def _is(lab: TvLab, business_id: str, state: str) -> bool:
    return await outbox_state(lab, business_id) == state


async def audit_rows(lab: TvLab, action: str) -> list[dict[str, Any]]:
    from sqlalchemy import select

    from wardline.db.models import AuditEvent

    async with lab.app[k.DATABASE].sessions() as s:
        rows = await s.scalars(select(AuditEvent).where(AuditEvent.action == action))
        return [dict(r.details, actor=r.actor, subject=r.subject_id) for r in rows]


async def test_a_refused_write_is_sent_again_once_the_ehr_is_mended(tvlab: TvLab) -> None:
    tv, admin, business_id, order = await refused_write(tvlab)
    path = f"/api/v1/admin/outbox/{business_id}"
    # Sent again before the cause is mended: refused again, kept, nothing lost.
    assert (await admin.json("POST", f"{path}/send-again"))["state"] == "pending"
    await wait_until(lambda: _is(tvlab, business_id, "failed"), timeout=10)
    tvlab.sandbox.store.resources["MedicationRequest"][BISOPROLOL] = order  # the EHR mended
    assert (await admin.json("POST", f"{path}/send-again"))["state"] == "pending"
    await wait_until(lambda: _is(tvlab, business_id, "delivered"), timeout=10)
    [resource] = administrations(tvlab)
    assert resource["identifier"][0]["value"] == business_id
    assert (await admin.json("GET", "/api/v1/admin/outbox"))["items"] == []
    again = await admin.call("POST", f"{path}/send-again")
    assert again.status == 409 and (await again.json())["error"] == "ehr.write_not_refused"
    sent = await audit_rows(tvlab, "ehr.write_sent_again")
    assert [(r["actor"], r["subject"], r["kind"]) for r in sent] == [
        ("root", business_id, "administration")
    ] * 2
    nurse = await tv.call("POST", f"{path}/send-again")  # a TV is not an administrator
    assert nurse.status in (401, 403)


async def test_a_refused_write_is_closed_by_hand_with_its_reason(tvlab: TvLab) -> None:
    tv, admin, business_id, _ = await refused_write(tvlab)
    path = f"/api/v1/admin/outbox/{business_id}"
    silent = await admin.call("POST", f"{path}/close", {"note": "  "})
    assert silent.status == 422 and (await silent.json())["error"] == "ehr.close_note_needed"
    assert await outbox_state(tvlab, business_id) == "failed"  # a refusal changes nothing
    note = "Saisie directement dans le DPI par l'IDE, prescription re-validée"
    closed = await admin.json("POST", f"{path}/close", {"note": note})
    assert closed["state"] == "closed"
    assert (await admin.json("GET", "/api/v1/admin/outbox"))["items"] == []
    record = await tv.json("GET", "/api/v1/tv/nurse/record")
    assert record["writes"] == []  # nothing left waiting at the bed
    shown = next(d for d in record["schedule"] if d["order_id"] == BISOPROLOL)
    assert shown["state"] == "given"  # the dose stays recorded: never due again
    [row] = await audit_rows(tvlab, "ehr.write_closed_by_hand")
    assert (row["actor"], row["subject"], row["note"]) == ("root", business_id, note)
    twice = await admin.call("POST", f"{path}/close", {"note": note})
    assert twice.status == 409
    unknown = await admin.call("POST", "/api/v1/admin/outbox/dose-0000000000/close", {"note": note})
    assert unknown.status == 404 and (await unknown.json())["error"] == "ehr.unknown_write"
    assert administrations(tvlab) == []
