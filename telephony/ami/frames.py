"""Framing of the Asterisk Manager Interface byte stream into whole messages, as a pure decoder.

Bytes in, messages out; no socket, no clock. What real Asterisk 22 sends and this decoder keeps:

- the banner ``Asterisk Call Manager/11.0.0`` is a line of its own with no blank line after it;
- a message ends at an empty line; lines end in CRLF, and a bare LF is accepted (the Park
  response ends ``Park successful\\n\\r\\n``, so the next block starts with an extra CRLF);
- headers keep their order and repetitions (``ChanVariable``, ``Output``);
- a message with an ``Event:`` header is an event even when it also has ``Response:``
  (OriginateResponse, ChallengeResponseFailed);
- bytes are decoded only once a whole message is there, so a UTF-8 character cut by a TCP
  read arrives intact.

Bad input never raises: an oversize message is skipped up to its end, a block without a
``Key: value`` line or without ``Event``/``Response`` is dropped, invalid UTF-8 is replaced;
each case is counted in :attr:`FrameDecoder.errors` (kind -> count), never logged with payload.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

MessageKind = Literal["banner", "event", "response", "action"]

BANNER_PREFIX = b"Asterisk Call Manager/"
DEFAULT_MAX_MESSAGE = 256 * 1024
_END = re.compile(rb"\n\r?\n")
# "Key: value" (one optional space after the colon; the key has no space, colon or line end)
_HEADER = re.compile(r"^([^:\r\n ]+):[ ]?([^\r\n]*)\r?$", re.MULTILINE)


class AmiMessage:
    """One AMI message: ordered headers (key, value) and a case-insensitive first-value view.

    An event is named from its first line; its other headers are parsed on first use (most
    events are routed by name and never looked into). Malformed lines found then are counted
    in the decoder's ``errors`` like those found while framing.
    """

    __slots__ = ("_errors", "_fields", "_headers", "_text", "kind", "name")

    def __init__(
        self,
        kind: MessageKind,
        name: str,
        headers: list[tuple[str, str]] | None = None,
        fields: dict[str, str] | None = None,
        *,
        text: str | None = None,
        errors: Counter[str] | None = None,
    ) -> None:
        self.kind = kind
        self.name = name
        self._headers = headers
        self._fields = fields
        self._text = text
        self._errors = errors

    @property
    def headers(self) -> list[tuple[str, str]]:
        headers = self._headers
        if headers is None:
            text = self._text or ""
            headers = self._headers = _HEADER.findall(text)
            bad = text.count("\n") + 1 - len(headers)
            if bad and self._errors is not None:
                self._errors["malformed_line"] += bad
            self._text = None
        return headers

    @property
    def fields(self) -> dict[str, str]:
        fields = self._fields
        if fields is None:
            fields = self._fields = {k.lower(): v for k, v in reversed(self.headers)}
        return fields

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AmiMessage):
            return NotImplemented
        return (self.kind, self.name, self.headers) == (other.kind, other.name, other.headers)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"AmiMessage({self.kind!r}, {self.name!r})"

    def get(self, key: str, default: str = "") -> str:
        """First value of ``key`` (any capitalisation), or ``default``."""
        return self.fields.get(key.lower(), default)

    def get_all(self, key: str) -> list[str]:
        """Every value of ``key``, in order (``ChanVariable``, ``Output``...)."""
        wanted = key.lower()
        return [value for k, value in self.headers if k.lower() == wanted]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self.fields

    @property
    def action_id(self) -> str:
        return self.fields.get("actionid", "")

    def variables(self, prefix: str = "") -> dict[str, str]:
        """``ChanVariable`` (or ``<prefix>ChanVariable``) headers as a dict ``NAME -> value``."""
        wanted = (prefix + "ChanVariable").lower()
        result: dict[str, str] = {}
        for key, value in self.headers:
            low = key.lower()
            if low == wanted or (low.startswith(wanted + "(") and low.endswith(")")):
                name, _, val = value.partition("=")
                result[name] = val
        return result

    def to_bytes(self) -> bytes:
        """Serialise as Asterisk does (CRLF lines, blank line after)."""
        if self.kind == "banner":
            return self.name.encode() + b"\r\n"
        lines = [f"{key}: {value}" for key, value in self.headers]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")


def build_message(headers: list[tuple[str, str]], actions: bool = False) -> AmiMessage | None:
    """Classify parsed headers; ``None`` when they are neither an event nor a response (nor,
    with ``actions``, as a PBX reads them, an action)."""
    first = headers[0][0].lower()
    if not actions and first in ("event", "response"):  # the usual case: kind comes first
        fields = None
    else:
        fields = {k.lower(): v for k, v in reversed(headers)}
    if actions:  # a PBX reads actions only (QueueLog and UserEvent actions carry Event:)
        assert fields is not None
        action = fields.get("action")
        return AmiMessage("action", action, headers, fields) if action is not None else None
    if first == "event":
        return AmiMessage("event", headers[0][1], headers)
    if fields is None:
        fields = {k.lower(): v for k, v in reversed(headers)}
    event = fields.get("event")
    if event is not None:
        return AmiMessage("event", event, headers, fields)
    response = fields.get("response")
    if response is not None:
        return AmiMessage("response", response, headers, fields)
    return None


@dataclass
class FrameDecoder:
    """Incremental decoder of one AMI session (make a new one per connection)."""

    max_message: int = DEFAULT_MAX_MESSAGE
    actions: bool = False
    """Read actions (the PBX's side) instead of events and responses."""
    errors: Counter[str] = field(default_factory=Counter)
    _buffer: bytearray = field(default_factory=bytearray)
    _scan_from: int = 0
    _started: bool = False
    _discarding: bool = False
    banner: str | None = None

    def feed(self, data: bytes) -> list[AmiMessage]:
        """Add bytes from the socket; return the messages they complete, in order."""
        buf = self._buffer
        buf += data
        out: list[AmiMessage] = []
        if not self._started and not self.actions and not self._take_banner(out):
            return out
        if len(buf) - len(data) > 2 and _END.search(buf, self._scan_from) is None:
            pieces: list[bytes] = []  # still inside one message: nothing to split
        else:
            pieces = _END.split(buf)  # whole blocks, then the unfinished rest
            rest = pieces.pop()
            del buf[: len(buf) - len(rest)]
        for block in pieces:
            if self._discarding:
                self._discarding = False
                continue
            if len(block) > self.max_message:
                self.errors["oversize"] += 1
                continue
            message = self._parse_block(block)
            if message is not None:
                out.append(message)
        if len(buf) > self.max_message:
            if not self._discarding:
                self.errors["oversize"] += 1
                self._discarding = True
            del buf[:-2]  # keep what may begin an end of message
        self._scan_from = max(0, len(buf) - 2)
        return out

    def pending(self) -> int:
        """Bytes waiting for the end of their message (a truncated message stays here)."""
        return len(self._buffer)

    def _take_banner(self, out: list[AmiMessage]) -> bool:
        buf = self._buffer
        if len(buf) < len(BANNER_PREFIX) and BANNER_PREFIX.startswith(bytes(buf)):
            return False  # too short to tell
        self._started = True
        if not buf.startswith(BANNER_PREFIX):
            return True
        end = buf.find(b"\n")
        if end < 0:
            if len(buf) > 256:
                self.errors["bad_banner"] += 1
                return True
            self._started = False
            return False
        line = bytes(buf[:end]).rstrip(b"\r").decode("utf-8", "replace")
        del buf[: end + 1]
        self.banner = line
        out.append(AmiMessage("banner", line, [], {}))
        return True

    def _parse_block(self, block: bytes) -> AmiMessage | None:
        try:
            text = block.decode("utf-8")
        except UnicodeDecodeError:
            self.errors["invalid_utf8"] += 1
            text = block.decode("utf-8", "replace")
        text = text.lstrip("\r\n")  # the extra CRLF after a bare-LF end
        if not self.actions and text.startswith("Event: "):
            end = text.find("\n")
            name = (text[7:] if end < 0 else text[7:end]).rstrip("\r")
            if name and "\r" not in name:  # the usual case: parse the rest on first use
                return AmiMessage("event", name, text=text, errors=self.errors)
        headers = _HEADER.findall(text)
        # a block holds no empty line but a leading one, so every other line must match
        bad = (text.count("\n") + 1 if text else 0) - len(headers)
        if not headers:
            if bad:
                self.errors["garbage"] += 1
            return None
        message = build_message(headers, self.actions)
        if message is None:
            self.errors["unclassified"] += 1
            return None
        if bad:
            self.errors["malformed_line"] += bad
        return message


def parse_stream(data: bytes, max_message: int = DEFAULT_MAX_MESSAGE) -> list[AmiMessage]:
    """Decode a whole captured session (what a socket would deliver, at once)."""
    return FrameDecoder(max_message=max_message).feed(data)
