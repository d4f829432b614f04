"""The demo's ADT feed: admissions (A01, IHE PAM France shape, ISO 8859-1) of the example
patients that the FHIR sandbox holds, sent over MLLP to a listener."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from hl7.mllp import open_hl7_connection

from ehr_bridge.sandbox.seed import ExamplePatient

IPP_AUTHORITY = "CHRS&1.2.250.1.999.1&ISO"


def admission(patient: ExamplePatient, control_id: str, at: datetime | None = None) -> bytes:
    stamp = (at or datetime.now(UTC)).strftime("%Y%m%d%H%M%S%z")  # with its offset
    sex = {"female": "F", "male": "M"}.get(patient.gender, "U")
    b = patient.bed
    segments = [
        f"MSH|^~\\&|DEMO-ADT|CHRS|WARDLINE|CHRS|{stamp}||ADT^A01^ADT_A01|{control_id}|P|2.5"
        "|||||FRA|8859/1|||2.10",
        f"EVN||{stamp}||||{stamp}",
        f"PID|1||{patient.ipp}^^^{IPP_AUTHORITY}^PI||{patient.family}^{patient.given}^^^^^L||"
        f"{patient.birth_date:%Y%m%d}|{sex}",
        f"PV1|1|I|{b.ward}^{b.room}^{b.bed}||||||||||||||||{patient.visit_number}^^^CHRS^VN",
        f"ZBE|MVT-{patient.visit_number}^DEMO-ADT|{stamp}||INSERT|N",
    ]
    return "\r".join(segments).encode("latin-1") + b"\r"


async def send_admissions(host: str, port: int, patients: list[ExamplePatient]) -> Counter[str]:
    """Send one A01 per patient, each after the previous ACK; count the ACK codes."""
    codes: Counter[str] = Counter()
    reader, writer = await open_hl7_connection(host, port)
    try:
        stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
        for patient in patients:
            writer.writeblock(admission(patient, f"DEMO-{stamp}-{patient.n}"))
            await writer.drain()
            ack: bytes = await reader.readblock()
            msa = next((s for s in ack.split(b"\r") if s.startswith(b"MSA")), b"MSA|??")
            codes[msa.split(b"|")[1].decode("ascii", "replace")] += 1
    finally:
        writer.close()
    return codes
