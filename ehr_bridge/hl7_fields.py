"""HL7 v2 message access shared by the ADT mapping and the acknowledgements: decoding and
parsing with python-hl7 (printable characters only), the MSH header and field extraction."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

import hl7

from ehr_bridge.errors import MalformedMessage
from ehr_bridge.hl7_charset import decode_message
from ehr_bridge.hl7_time import hl7_date

_CONTROL = re.compile(r"[\x00-\x0c\x0e-\x1f\x7f-\x9f]")


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
    if msg.esc in text:
        text = str(msg.unescape(text))
    if _CONTROL.search(text) is not None:  # written as an escape sequence (\X00\)
        raise MalformedMessage("hl7.control_character", f"{seg}-{fld} holds a control character")
    return text.strip()


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


def birth_date(value: str) -> date | None:
    return hl7_date(value)


def control_character(text: str) -> int | None:
    """The position of the first control character (C0 but the segment terminator, DEL, C1)
    in ``text``, or None: HL7 data types hold printable characters only."""
    found = _CONTROL.search(text)
    return found.start() if found else None


def read_header(msg: hl7.Message, codec: str) -> MessageHeader:
    return MessageHeader(
        field_separator=msg.separators[1],
        encoding_characters=msg.separators[3] + msg.separators[2] + msg.esc + msg.separators[4],
        sending_application=field(msg, "MSH", 3),
        sending_facility=field(msg, "MSH", 4),
        receiving_application=field(msg, "MSH", 5),
        receiving_facility=field(msg, "MSH", 6),
        message_type=field(msg, "MSH", 9, 1, 1),
        trigger=field(msg, "MSH", 9, 1, 2),
        control_id=field(msg, "MSH", 10),
        processing_id=field(msg, "MSH", 11) or "P",
        version=field(msg, "MSH", 12) or "2.5",
        charset=codec,
        declared_charset=field(msg, "MSH", 18),
    )


def parse_message(
    raw: bytes, default_charset: str, *, strict: bool = True
) -> tuple[hl7.Message, str]:
    """Decode and parse; the python-hl7 message and the codec used. ``strict``: a control
    character anywhere (NUL, ESC...) is :class:`MalformedMessage` ``hl7.control_character``."""
    decoded = decode_message(raw, default_charset)
    if strict:
        where = control_character(decoded.text)
        if where is not None:
            raise MalformedMessage(
                "hl7.control_character",
                f"control character U+{ord(decoded.text[where]):04X} at character {where + 1}",
            )
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
        msg, codec = parse_message(raw, default_charset, strict=False)
    except MalformedMessage:
        try:
            msg, codec = parse_message(raw, "latin-1", strict=False)
        except MalformedMessage:
            return None
    try:
        return read_header(msg, codec)
    except Exception:  # a header is a courtesy: never let it fail an acknowledgement
        return None
