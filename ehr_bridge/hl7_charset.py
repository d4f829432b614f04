"""Bytes of an HL7 v2 message to text, in the character set its MSH-18 declares.

MSH itself is ASCII, so MSH-18 is read from the raw bytes before anything is decoded. A message
that does not decode in its declared (or the configured default) charset is malformed.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass

from ehr_bridge.errors import MalformedMessage

# HL7 table 0211 (alternate character sets) to Python codecs.
HL7_CHARSETS: dict[str, str] = {
    "ASCII": "ascii",
    "8859/1": "latin-1",
    "8859/2": "iso-8859-2",
    "8859/3": "iso-8859-3",
    "8859/4": "iso-8859-4",
    "8859/5": "iso-8859-5",
    "8859/6": "iso-8859-6",
    "8859/7": "iso-8859-7",
    "8859/8": "iso-8859-8",
    "8859/9": "iso-8859-9",
    "8859/15": "iso-8859-15",
    "UNICODE UTF-8": "utf-8",
    "UNICODE": "utf-8",
    "UTF-8": "utf-8",
    "UNICODE UTF-16": "utf-16",
    "CP1252": "cp1252",
}


@dataclass(frozen=True, kw_only=True)
class DecodedText:
    text: str
    charset: str
    """The Python codec actually used."""


def _normalise_segments(raw: bytes) -> bytes:
    """Segments separated by one CR; LF and CRLF accepted; empty segments dropped."""
    lines = raw.replace(b"\r\n", b"\r").replace(b"\n", b"\r").split(b"\r")
    return b"\r".join(line for line in lines if line.strip())


def declared_charset(raw: bytes) -> str:
    """MSH-18 (first repetition) as written, or "" when absent."""
    data = _normalise_segments(raw)
    if not data.startswith(b"MSH") or len(data) < 8:
        raise MalformedMessage("hl7.no_msh", "the message does not start with an MSH segment")
    separator = data[3:4]
    msh = data.split(b"\r", 1)[0]
    fields = msh.split(separator)
    # fields[0] is "MSH", fields[1] MSH-2 (encoding characters): MSH-n is fields[n - 1].
    if len(fields) < 18:
        return ""
    repetition = fields[1][1:2] or b"~"
    value = fields[17].split(repetition, 1)[0].strip()
    try:
        return value.decode("ascii")
    except UnicodeDecodeError as exc:
        raise MalformedMessage("hl7.bad_charset", "MSH-18 is not ASCII") from exc


def python_codec(hl7_charset: str, default: str) -> str:
    """The Python codec for an MSH-18 value; ``default`` when it is empty."""
    if not hl7_charset:
        name = default
    else:
        mapped = HL7_CHARSETS.get(hl7_charset.upper())
        if mapped is None:
            raise MalformedMessage(
                "hl7.unknown_charset",
                f"unsupported character set {hl7_charset!r} in MSH-18",
                charset=hl7_charset,
            )
        name = mapped
    try:
        return codecs.lookup(name).name
    except LookupError as exc:
        raise MalformedMessage(
            "hl7.unknown_charset", f"unknown character set {name!r}", charset=name
        ) from exc


def decode_message(raw: bytes, default_charset: str) -> DecodedText:
    """Decode ``raw`` with its declared charset; segments end with CR in the result."""
    if not raw.strip():
        raise MalformedMessage("hl7.empty", "empty message")
    codec = python_codec(declared_charset(raw), default_charset)
    try:
        text = _normalise_segments(raw).decode(codec)
    except UnicodeDecodeError as exc:
        raise MalformedMessage(
            "hl7.bad_encoding",
            f"the message is not valid {codec} at byte {exc.start}",
            charset=codec,
        ) from exc
    return DecodedText(text=text, charset=codec)
