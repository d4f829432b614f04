"""HL7 v2.5 ADT messages as a hospital's ADT feed sends them (IHE PAM France shape, ISO
8859-1, or UTF-8 when a name does not fit in it), and an MLLP sender that waits for each
ACK: for the demo's scenario driver and for end-to-end tests. Synthetic people only."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, date, datetime

from hl7.mllp import HL7StreamReader, HL7StreamWriter, open_hl7_connection

IPP_AUTHORITY = "CHRS&1.2.250.1.999.1&ISO"
TRIGGERS = {"A01", "A02", "A03", "A08", "A11", "A12", "A13", "A21", "A22"}


@dataclass(frozen=True, kw_only=True)
class AdtPatient:
    ipp: str
    family: str
    given: str
    birth_date: date
    sex: str = "U"
    visit_number: str


@dataclass(frozen=True, kw_only=True)
class AdtBed:
    ward: str
    room: str
    bed: str


def adt_message(
    trigger: str,
    patient: AdtPatient,
    bed: AdtBed | None,
    control_id: str,
    *,
    at: datetime | None = None,
    sender: str = "DEMO-ADT",
    charset: str | None = None,
) -> bytes:
    """One ADT message; ``bed`` is the new location (A01, A02) or the current one.

    ``charset`` (MSH-18): by default ISO 8859-1 (``8859/1``), as most French ADT feeds send,
    unless a name does not fit in it (``Nguyễn``): then ``UNICODE UTF-8``, as a sender must."""
    if trigger not in TRIGGERS:
        raise ValueError(f"unsupported trigger {trigger}")
    stamp = (at or datetime.now(UTC)).strftime("%Y%m%d%H%M%S%z")  # with its offset
    location = f"{bed.ward}^{bed.room}^{bed.bed}" if bed else ""
    if charset is None:
        try:
            f"{patient.family}{patient.given}{location}".encode("latin-1")
            charset = "8859/1"
        except UnicodeEncodeError:
            charset = "UNICODE UTF-8"
    segments = [
        f"MSH|^~\\&|{sender}|CHRS|WARDLINE|CHRS|{stamp}||ADT^{trigger}^ADT_{trigger}|{control_id}"
        f"|P|2.5|||||FRA|{charset}|||2.10",
        f"EVN||{stamp}||||{stamp}",
        f"PID|1||{patient.ipp}^^^{IPP_AUTHORITY}^PI||{patient.family}^{patient.given}^^^^^L||"
        f"{patient.birth_date:%Y%m%d}|{patient.sex}",
        f"PV1|1|I|{location}||||||||||||||||{patient.visit_number}^^^CHRS^VN",
    ]
    encoding = "latin-1" if charset == "8859/1" else "utf-8"
    return "\r".join(segments).encode(encoding) + b"\r"


def ack_code(ack: bytes) -> str:
    msa = next((s for s in ack.split(b"\r") if s.startswith(b"MSA")), b"MSA|??")
    return msa.split(b"|")[1].decode("ascii", "replace")


class AdtSender:
    """One MLLP connection to the listener; ``send`` returns the ACK code (AA, AE, AR)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._conn: tuple[HL7StreamReader, HL7StreamWriter] | None = None
        self._lock = asyncio.Lock()

    async def send(self, message: bytes, timeout: float = 10.0) -> str:  # noqa: ASYNC109
        async with self._lock:
            if self._conn is None:
                self._conn = await open_hl7_connection(self.host, self.port)
            assert self._conn is not None
            reader, writer = self._conn
            try:
                writer.writeblock(message)
                await writer.drain()
                async with asyncio.timeout(timeout):
                    ack: bytes = await reader.readblock()
            except (TimeoutError, OSError, asyncio.IncompleteReadError):
                await self.close()
                raise
            return ack_code(ack)

    async def close(self) -> None:
        if self._conn is not None:
            _, writer = self._conn
            self._conn = None
            writer.close()
