"""HL7 v2 acknowledgements (original mode): AA, AE with an ERR segment, AR."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, tzinfo

from ehr_bridge.hl7_fields import MessageHeader
from ehr_bridge.hl7_time import hl7_stamp

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")

# HL7 table 0357 (message error condition codes) used by Wardline.
REQUIRED_FIELD_MISSING = "101"
DATA_TYPE_ERROR = "102"
TABLE_VALUE_NOT_FOUND = "103"
UNSUPPORTED_MESSAGE_TYPE = "200"
UNSUPPORTED_EVENT = "201"
UNKNOWN_KEY = "204"
DUPLICATE_KEY = "205"
INTERNAL_ERROR = "207"

_TEXT = {
    "101": "Required field missing",
    "102": "Data type error",
    "103": "Table value not found",
    "200": "Unsupported message type",
    "201": "Unsupported event code",
    "204": "Unknown key identifier",
    "205": "Duplicate key identifier",
    "207": "Application internal error",
}


@dataclass(frozen=True, kw_only=True)
class AckError:
    code: str
    text: str
    error_id: str = ""


def _escape(value: str, header: MessageHeader) -> str:
    """Escape HL7 delimiters (escape character first) and control characters (``\\Xhh\\``)
    in a value written into the acknowledgement."""
    enc = header.encoding_characters.ljust(4, "\\")
    component, repetition, escape, sub = enc[0], enc[1], enc[2], enc[3]
    out = value.replace(escape, f"{escape}E{escape}")
    for char, code in (
        (header.field_separator, "F"),
        (component, "S"),
        (repetition, "R"),
        (sub, "T"),
    ):
        out = out.replace(char, f"{escape}{code}{escape}")
    return _CONTROL.sub(lambda m: f"{escape}X{ord(m.group()):02X}{escape}", out)


def _usable_delimiters(header: MessageHeader) -> MessageHeader:
    """The header, or with the standard delimiters (``|^~\\&``) when its own cannot delimit
    an answer (a garbled MSH-1/MSH-2: letters, repeats, missing characters)."""
    sep, enc = header.field_separator, header.encoding_characters
    chars = sep + enc
    usable = (
        len(sep) == 1
        and len(enc) in (4, 5)
        and len(set(chars)) == len(chars)
        and not any(c.isalnum() or c.isspace() or not c.isprintable() for c in chars)
    )
    if usable:
        return header
    return replace(header, field_separator="|", encoding_characters="^~\\&")


def build_ack(
    header: MessageHeader | None,
    code: str,
    error: AckError | None = None,
    *,
    now: datetime | None = None,
    zone: tzinfo = UTC,
    control_id: str | None = None,
) -> str:
    """The ACK text (segments separated by CR) answering ``header``'s message. MSH-7 is
    ``now`` in ``zone`` with its offset; what is echoed from the message is escaped."""
    h = _usable_delimiters(header or MessageHeader())
    sep = h.field_separator
    stamp = hl7_stamp(now or datetime.now(UTC), zone)
    ack_id = control_id or uuid.uuid4().hex[:20]
    comp = h.encoding_characters[0:1] or "^"

    def echo(value: str) -> str:
        return _escape(value, h)

    trigger = echo(h.trigger)
    msh_fields = [
        "MSH",
        h.encoding_characters,
        echo(h.receiving_application) or "WARDLINE",
        echo(h.receiving_facility),
        echo(h.sending_application),
        echo(h.sending_facility),
        stamp,
        "",
        comp.join(["ACK", trigger, "ACK"]) if trigger else "ACK",
        ack_id,
        echo(h.processing_id) or "P",
        echo(h.version) or "2.5",
    ]
    if h.declared_charset:  # MSH-13..17 empty, MSH-18 as the message declared it
        msh_fields += ["", "", "", "", "", echo(h.declared_charset)]
    msh = sep.join(msh_fields)
    msa_text = _escape(error.text[:80], h) if error else ""
    segments = [msh, sep.join(["MSA", code, echo(h.control_id), msa_text])]
    if error is not None:
        label = _TEXT.get(error.code, "")
        err_code = comp.join([error.code, label, "HL70357"])
        # ERR-3 error code, ERR-4 severity, ERR-8 user message (v2.5)
        text = _escape(error.text, h)
        segments.append(sep.join(["ERR", "", "", err_code, "E", "", "", "", text]))
    return "\r".join(segments) + "\r"
