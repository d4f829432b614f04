"""HL7 v2 message access shared by the ADT mapping and the acknowledgements: decoding and
parsing with python-hl7, the MSH header, field extraction and HL7 timestamps."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

import hl7

from ehr_bridge.errors import MalformedMessage
from ehr_bridge.hl7_charset import decode_message


@dataclass(frozen=True, kw_only=True)
class MessageHeader:
    """The MSH facts an acknowledgement needs (all of them may be empty on a bad message)."""

    field_separator: str = "|"
    encoding_characters: str = "^~\\&"
    sending_application: str = ""
    sending_facility: str = ""
    receiving_application: str = ""
    receiving_facility: str = ""
    message_type: str = ""
    trigger: str = ""
    control_id: str = ""
    processing_id: str = "P"
    version: str = "2.5"
    charset: str = ""
    """The Python codec the message was decoded with."""
    declared_charset: str = ""
    """MSH-18 as written (repeated in the acknowledgement)."""

    @property
    def sender(self) -> str:
        return f"{self.sending_application}|{self.sending_facility}"


def _segments(msg: hl7.Message) -> dict[str, list[hl7.Segment]]:
    """The message's segments by name, indexed once per message (python-hl7 scans every
    segment on each lookup)."""
    index: dict[str, list[hl7.Segment]] | None = getattr(msg, "_wardline_segments", None)
    if index is None:
        index = {}
        for segment in msg:
            index.setdefault(str(segment[0][0]) if segment and segment[0] else "", []).append(
                segment
            )
        msg._wardline_segments = index
    return index


def field(msg: hl7.Message, seg: str, fld: int, rep: int = 1, comp: int = 1, sub: int = 1) -> str:
    found = _segments(msg).get(seg)
    if not found:
        return ""
    try:
        value = found[0].extract_field(1, fld, rep, comp, sub)
    except (IndexError, KeyError):
        return ""
    if not value:
        return ""
    text = str(value)
    return str(msg.unescape(text)).strip() if msg.esc in text else text.strip()


def has_segment(msg: hl7.Message, seg: str) -> bool:
    return bool(_segments(msg).get(seg))


def repetitions(msg: hl7.Message, seg: str, fld: int) -> int:
    found = _segments(msg).get(seg)
    if not found:
        return 0
    try:
        raw = str(found[0](fld))
    except (IndexError, KeyError):
        return 0
    return len(raw.split(msg.separators[2])) if raw else 0


def parse_hl7_datetime(value: str) -> datetime | None:
    """HL7 TS (YYYY[MM[DD[HH[MM[SS[.S]]]]]][+/-ZZZZ]) to an aware datetime (UTC if no zone)."""
    if not value:
        return None
    text, zone = value, ""
    for sign in ("+", "-"):
        if sign in text[8:]:
            cut = text.rindex(sign)
            text, zone = text[:cut], text[cut:]
    text = text.split(".", 1)[0]
    formats = {14: "%Y%m%d%H%M%S", 12: "%Y%m%d%H%M", 10: "%Y%m%d%H", 8: "%Y%m%d"}
    fmt = formats.get(len(text))
    if fmt is None:
        raise MalformedMessage("hl7.bad_datetime", f"invalid HL7 timestamp {value!r}")
    try:
        parsed = datetime.strptime(text + zone, fmt + ("%z" if zone else ""))
    except ValueError as exc:
        raise MalformedMessage("hl7.bad_datetime", f"invalid HL7 timestamp {value!r}") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def birth_date(value: str) -> date | None:
    stamp = parse_hl7_datetime(value[:8]) if value else None
    return stamp.date() if stamp else None


def read_header(msg: hl7.Message, codec: str) -> MessageHeader:
    return MessageHeader(
        field_separator=msg.separators[1],
        encoding_characters=msg.separators[3] + msg.separators[2] + msg.esc + msg.separators[4],
        sending_application=field(msg, "MSH", 3),
        sending_facility=field(msg, "MSH", 4),
        receiving_application=field(msg, "MSH", 5),
        receiving_facility=field(msg, "MSH", 6),
        message_type=field(msg, "MSH", 9, 1, 1),
        trigger=field(msg, "MSH", 9, 1, 2) or field(msg, "EVN", 1),
        control_id=field(msg, "MSH", 10),
        processing_id=field(msg, "MSH", 11) or "P",
        version=field(msg, "MSH", 12) or "2.5",
        charset=codec,
        declared_charset=field(msg, "MSH", 18),
    )


def parse_message(raw: bytes, default_charset: str) -> tuple[hl7.Message, str]:
    """Decode and parse; the python-hl7 message and the codec used."""
    decoded = decode_message(raw, default_charset)
    try:
        msg = hl7.parse(decoded.text)
    except Exception as exc:  # python-hl7 raises bare ParseException/ValueError
        raise MalformedMessage("hl7.unparseable", "the message cannot be parsed") from exc
    if not has_segment(msg, "MSH"):
        raise MalformedMessage("hl7.no_msh", "the message has no MSH segment")
    return msg, decoded.charset


def header_of(raw: bytes, default_charset: str) -> MessageHeader | None:
    """Best-effort MSH of a message that may be unusable (to address its acknowledgement)."""
    try:
        msg, codec = parse_message(raw, default_charset)
    except MalformedMessage:
        try:
            msg, codec = parse_message(raw, "latin-1")
        except MalformedMessage:
            return None
    try:
        return read_header(msg, codec)
    except Exception:  # a header is a courtesy: never let it fail an acknowledgement
        return None
