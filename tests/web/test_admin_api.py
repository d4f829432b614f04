"""The admin API: inventory and presence, staff accounts, DIDs, ADT replay, EHR outbox,
audit log and its verification; only for admins."""

from __future__ import annotations

from sqlalchemy import update

from tests.ehr_bridge.messages import adt
from tests.web.conftest import WebLab
from wardline import appkeys as k
from wardline.db.models import InboundMessage, Terminal
from wardline.domain.commands import SYSTEM_ADT, Admit, BedLocation, PatientData

ADMIN_READS = [
    "/api/v1/admin/inventory",
    "/api/v1/admin/staff",
    "/api/v1/admin/lines",
    "/api/v1/admin/adt",
    "/api/v1/admin/outbox",
    "/api/v1/admin/audit",
    "/api/v1/admin/audit/verify",
]


async def test_only_admins_reach_the_admin_api(adminlab: WebLab) -> None:
    for username in ("opal", "nina"):
        b = await adminlab.signed_in(username, "9000" if username == "opal" else None)
        for path in ADMIN_READS:
            r = await b.call("GET", path)
            assert (r.status, (await r.json())["error"]) == (403, "auth.role"), path
        r = await b.call("POST", "/api/v1/admin/adt/1/replay")
        assert r.status == 403
        r = await b.call("GET", "/admin")
        assert r.status == 403
    admin = await adminlab.signed_in("ada")
    for path in ADMIN_READS:
        assert (await admin.call("GET", path)).status == 200, path


async def test_inventory_with_terminal_presence(adminlab: WebLab) -> None:
    async with adminlab.app[k.DATABASE].session() as s:
        await s.execute(update(Terminal).where(Terminal.id == "T-CARDIO-101-A").values(online=True))
    inv = await (await adminlab.signed_in("ada")).json("GET", "/api/v1/admin/inventory")
    cardio = next(w for w in inv["wards"] if w["code"] == "CARDIO")
    bed = next(b for b in cardio["beds"] if b["label"] == "CARDIO-101-A")
    assert (bed["extension"], bed["terminal_id"], bed["terminal_online"]) == (
        "2001",
        "T-CARDIO-101-A",
        True,
    )
    assert inv["terminals_online"] == 1
    assert inv["terminals_total"] >= 40


async def test_create_a_staff_account_audited_as_the_admin(adminlab: WebLab) -> None:
    admin = await adminlab.signed_in("ada")
    body = {
        "username": "zoe",
        "display_name": "Zoé Night",
        "roles": ["nurse"],
        "password": "long enough secret",
        "ward_code": "CARDIO",
    }
    r = await admin.call("POST", "/api/v1/admin/staff", body)
    assert r.status == 201 and (await r.json())["roles"] == ["nurse"]
    staff = await admin.json("GET", "/api/v1/admin/staff")
    assert "zoe" in [u["username"] for u in staff["staff"]]
    audit = await admin.json("GET", "/api/v1/admin/audit?action=staff.add")
    assert audit["rows"][0]["actor"] == "ada"
    r = await admin.call("POST", "/api/v1/admin/staff", body)
    assert (r.status, (await r.json())["error"]) == (409, "staff.exists")
    r = await admin.call("POST", "/api/v1/admin/staff", body | {"roles": ["terminal"]})
    assert r.status == 422
    zoe = adminlab.browser()
    await zoe.refresh()
    r = await zoe.call(
        "POST", "/api/v1/session", {"username": "zoe", "password": "long enough secret"}
    )
    assert r.status == 200


async def test_dids_show_the_bed_they_serve(adminlab: WebLab) -> None:
    await adminlab.app[k.STAYS].admit(
        Admit(
            visit_number="V-DID",
            patient=PatientData(ipp="777", family_name="Linie"),
            location=BedLocation(label="CARDIO-101-B"),
        ),
        SYSTEM_ADT,
    )
    out = await (await adminlab.signed_in("ada")).json("GET", "/api/v1/admin/lines")
    assigned = [d for d in out["dids"] if d["state"] == "assigned"]
    assert [d["bed"] for d in assigned] == ["CARDIO-101-B"]
    assert out["assigned"] == 1 and out["free"] == len(out["dids"]) - 1
    assert "Linie" not in str(out)


async def test_failed_adt_message_replayed_by_the_admin(adminlab: WebLab) -> None:
    async with adminlab.app[k.DATABASE].session() as s:
        for control, bed in (("C-OK", "A"), ("C-BAD", "Z")):
            s.add(
                InboundMessage(
                    sender="PASTEL|CHRS",
                    control_id=control,
                    message_type="ADT^A01",
                    raw=adt("A01", control, visit=f"V-{control}", ipp=control, bed=bed),
                    charset="UNICODE UTF-8",
                    status="error",
                    error_id="bed.occupied",
                    error="bed occupied",
                    attempts=1,
                )
            )
    admin = await adminlab.signed_in("ada")
    failed = (await admin.json("GET", "/api/v1/admin/adt?status=error"))["messages"]
    ids = {m["control_id"]: m["message_id"] for m in failed}
    assert set(ids) == {"C-OK", "C-BAD"}
    ok = await admin.json("POST", f"/api/v1/admin/adt/{ids['C-OK']}/replay")
    assert (ok["status"], ok["ack_code"]) == ("applied", "AA")
    assert await adminlab.app[k.STAYS].stay_by_visit("V-C-OK") is not None
    bad = await admin.json("POST", f"/api/v1/admin/adt/{ids['C-BAD']}/replay")
    assert bad["status"] == "error" and bad["error_id"]
    r = await admin.call("POST", "/api/v1/admin/adt/999999/replay")
    assert (r.status, (await r.json())["error"]) == (404, "adt.unknown_message")
    r = await admin.call("POST", "/api/v1/admin/adt/abc/replay")
    assert r.status == 422
    r = await admin.call("GET", "/api/v1/admin/adt?status=lost")
    assert r.status == 422


async def test_outbox_without_fhir_and_the_audit_chain(adminlab: WebLab) -> None:
    admin = await adminlab.signed_in("ada")
    assert await admin.json("GET", "/api/v1/admin/outbox") == {"configured": False, "items": []}
    chain = await admin.json("GET", "/api/v1/admin/audit/verify")
    assert chain["ok"] is True and chain["rows"] > 0


async def test_a_staff_account_with_an_rpps_number(adminlab: WebLab) -> None:
    admin = await adminlab.signed_in("ada")
    body = {
        "username": "ines",
        "display_name": "Inès Lambert",
        "roles": ["nurse"],
        "password": "long enough secret",
        "rpps": "100 0000 0001",
    }
    r = await admin.call("POST", "/api/v1/admin/staff", body)
    assert r.status == 201 and (await r.json())["rpps"] == "10000000001"
    listed = await admin.json("GET", "/api/v1/admin/staff")
    assert {u["username"]: u["rpps"] for u in listed["staff"]}["ines"] == "10000000001"
    for bad in ("12345", "1000000000A"):
        r = await admin.call("POST", "/api/v1/admin/staff", body | {"username": "x", "rpps": bad})
        assert r.status == 422
    r = await admin.call("POST", "/api/v1/admin/staff", body | {"username": "other"})
    assert (r.status, (await r.json())["error"]) == (409, "staff.rpps_taken")
