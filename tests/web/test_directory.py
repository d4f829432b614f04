"""The directory: as-you-type search, non-disclosure, one audit row per patient read."""

from __future__ import annotations

from sqlalchemy import select

from tests.web.conftest import WebLab
from wardline import appkeys as k
from wardline.db.models import AuditEvent
from wardline.domain.commands import SYSTEM_ADT, Admit, BedLocation, PatientData


async def admit(lab: WebLab, visit: str, bed: str, family: str, given: str, nd: bool) -> None:
    await lab.app[k.STAYS].admit(
        Admit(
            visit_number=visit,
            patient=PatientData(
                ipp=visit.replace("V", "P"),
                family_name=family,
                given_name=given,
                non_disclosure=nd,
            ),
            location=BedLocation(label=bed),
        ),
        SYSTEM_ADT,
    )


async def reads(lab: WebLab) -> list[AuditEvent]:
    async with lab.app[k.DATABASE].sessions() as s:
        rows = await s.scalars(
            select(AuditEvent).where(AuditEvent.action == "directory.patient_read")
        )
        return list(rows)


async def test_patients_by_name_as_you_type_with_an_audit_row_each(weblab: WebLab) -> None:
    await admit(weblab, "V1", "CARDIO-101-A", "Dupré", "Hélène", nd=False)
    await admit(weblab, "V2", "CARDIO-101-B", "Durand", "Marc", nd=False)
    op = await weblab.signed_in("opal", "9000")
    out = await op.json("POST", "/api/v1/directory/search", {"q": "helene du"})
    patients = [e for e in out["entries"] if e["kind"] == "patient"]
    assert [(p["label"], p["bed"], p["extension"]) for p in patients] == [
        ("DUPRÉ Hélène", "CARDIO-101-A", "2001")
    ]
    assert set(patients[0]) == {
        "kind",
        "label",
        "extension",
        "ward_code",
        "bed",
        "did",
        "do_not_disturb",
        "line_suspended",
        "in_bed_since",  # when the stay came to its bed: the switchboard's "moved at"
        "in_bed_since_text",
    }  # no birth date, no identifiers, nothing clinical
    out = await op.json("POST", "/api/v1/directory/search", {"q": "du"})
    assert sum(e["kind"] == "patient" for e in out["entries"]) == 2
    rows = await reads(weblab)
    assert len(rows) == 3
    assert {r.actor for r in rows} == {"opal"}


async def test_a_non_disclosed_patient_answers_exactly_as_nobody(weblab: WebLab) -> None:
    await admit(weblab, "V3", "CARDIO-102-A", "Secretan", "Lise", nd=True)
    op = await weblab.signed_in("opal", "9000")
    hidden = await op.call("POST", "/api/v1/directory/search", {"q": "Secretan Lise"})
    nobody = await op.call("POST", "/api/v1/directory/search", {"q": "Sekretan Lyse"})
    assert hidden.status == nobody.status == 200
    assert await hidden.read() == await nobody.read()
    assert (await hidden.json())["entries"] == []
    by_bed = await op.json("POST", "/api/v1/directory/search", {"q": "CARDIO-102-A"})
    assert [e["kind"] for e in by_bed["entries"]] == ["bed"]
    assert "Secretan" not in str(by_bed)
    assert await reads(weblab) == []


async def test_beds_wards_and_staff_phones(weblab: WebLab) -> None:
    op = await weblab.signed_in("opal", "9000")
    ward = await op.json("POST", "/api/v1/directory/search", {"q": "pneumo"})
    assert {e["ward_code"] for e in ward["entries"]} == {"PNEUMO"}
    assert any(e["kind"] == "phone" for e in ward["entries"])
    number = await op.json("POST", "/api/v1/directory/search", {"q": "2900"})
    assert [(e["kind"], e["extension"]) for e in number["entries"]] == [("phone", "2900")]
    r = await op.call("POST", "/api/v1/directory/search", {"q": "x"})
    assert r.status == 422
