"""The corpus: FHIR R4 resources written as real EHRs write them (coded statuses with
displays, contained and referenced Medications, every dosage form Wardline reads, homonyms,
an Encounter filed on another patient, patients with and without allergy data), as JSON
Bundles in ``corpus/``. Synthetic French patients only.

The tests load it into the real FHIR peer (Medplum) and into the sandbox; the demo's sandbox
serves it too. :data:`CORPUS_PATIENTS` is the ADT side of each bed patient (what the
hospital's ADT feed says about them), for admissions and identity checks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from ehr_bridge.sandbox.store import SandboxStore

FOLDER = Path(__file__).resolve().parent / "corpus"
IPP_SYSTEM = "urn:oid:1.2.250.1.999.1"
"""The IPP identifier system of the corpus's hospital (WARDLINE_EHR_IPP_SYSTEM)."""
VISIT_SYSTEM = "urn:oid:1.2.250.1.999.1.2"
"""Its visit number system (WARDLINE_EHR_VISIT_SYSTEM)."""

Resource = dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class CorpusPatient:
    """A corpus patient as the ADT feed identifies them."""

    key: str
    ipp: str
    visit_number: str
    family: str
    given: str
    birth_date: date
    sex: str
    ins: str | None
    location_id: str | None


CORPUS_PATIENTS: dict[str, CorpusPatient] = {
    p.key: p
    for p in (
        CorpusPatient(
            key="helene",
            ipp="800001",
            visit_number="8000011",
            family="Lefèvre-Bérard",
            given="Hélène",
            birth_date=date(1948, 5, 17),
            sex="F",
            ins="248057512345678",
            location_id="corpus-bed-1",
        ),
        CorpusPatient(
            key="francois",
            ipp="800002",
            visit_number="8000021",
            family="Nguyễn-Château",
            given="François",
            birth_date=date(1975, 8, 2),
            sex="M",
            ins=None,
            location_id="corpus-bed-2",
        ),
        CorpusPatient(
            key="zoe",
            ipp="800003",
            visit_number="8000031",
            family="Ménard",
            given="Zoé",
            birth_date=date(1990, 1, 31),
            sex="F",
            ins=None,
            location_id="corpus-bed-3",
        ),
        CorpusPatient(
            key="aime",
            ipp="800004",
            visit_number="8000041",
            family="Côté",
            given="Aimé",
            birth_date=date(1939, 7, 14),
            sex="M",
            ins=None,
            location_id="corpus-bed-4",
        ),
        CorpusPatient(
            key="ines",
            ipp="800005",
            visit_number="8000051",
            family="Bénard",
            given="Inès",
            birth_date=date(1983, 4, 9),
            sex="F",
            ins=None,
            location_id=None,
        ),
    )
}


def corpus_resources() -> list[Resource]:
    """Every resource of the corpus, shared ones (Medications, Locations) first."""
    out: list[Resource] = []
    for path in sorted(FOLDER.glob("*.json")):
        bundle = json.loads(path.read_text(encoding="utf-8"))
        out.extend(entry["resource"] for entry in bundle["entry"])
    return out


def load_corpus(store: SandboxStore) -> int:
    """Put the corpus into a sandbox store; returns how many resources."""
    resources = corpus_resources()
    for resource in resources:
        store.add(resource)
    return len(resources)
