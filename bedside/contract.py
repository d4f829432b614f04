"""The terminal contract: versioned JSON payloads of every topic, and their pure parsers.

Every payload carries ``"v": 1``. Service → terminal: :class:`TerminalConfig` (retained),
:class:`PatientContext` (retained; an empty retained message means "no patient"), notices
(:data:`Notice`). Terminal → service: :class:`TerminalStatus` (retained, also the last will)
and events (:data:`TerminalEvent`, discriminated by ``type``). Parsers take bytes and return a
model or raise a :class:`~bedside.errors.PayloadInvalid`; they never touch a socket.
The context is patient-safe by construction: there is no field for clinical data.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from pydantic_core import from_json

from bedside.errors import PayloadInvalid, PayloadTooLarge, UnsupportedVersion

VERSION = 1
MAX_PAYLOAD_BYTES = 16 * 1024
Language = Literal["fr", "en", "de", "lb"]
ShortText = Annotated[str, Field(max_length=200)]


class Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)
    v: Literal[1] = 1

    def to_bytes(self) -> bytes:
        return self.model_dump_json(exclude_none=False).encode()


# --- service → terminal ---------------------------------------------------------------------


class TvChannel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    number: int = Field(ge=0, le=9999)
    name: ShortText
    url: ShortText | None = None
    kind: Literal["tv", "radio"] = "tv"


class TerminalConfig(Payload):
    """Retained on ``config``: what the terminal is, wherever a patient lies in its bed."""

    bed_label: ShortText | None
    room: ShortText | None
    ward_code: ShortText | None
    language: Language
    channels: list[TvChannel] = Field(default_factory=list, max_length=500)
    kiosk_url: ShortText


PhoneState = Literal["active", "do_not_disturb", "suspended", "none"]
MealOrdering = Literal["open", "closed", "unavailable"]


class PhoneLine(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    number: ShortText | None
    state: PhoneState


class Services(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    tv: bool
    phone: bool
    meals: bool


class PatientContext(Payload):
    """Retained on ``context``: how to greet the patient and what their bed offers.

    Never clinical data: no diagnosis, no allergies, no treatment, no birth date.
    """

    greeting_name: ShortText
    language: Language
    room: ShortText | None
    bed_label: ShortText
    phone: PhoneLine
    services: Services
    meal_ordering: MealOrdering
    on_leave: bool
    updated_at: datetime


NurseCallState = Literal["received", "escalated", "acknowledged", "cleared"]


class NurseCallNotice(Payload):
    type: Literal["nurse_call"] = "nurse_call"
    call_id: int
    bed_label: ShortText
    state: NurseCallState
    level: int = Field(default=0, ge=0)


class IncomingCallNotice(Payload):
    """A call for the bed's phone: ``ringing`` shows the banner, ``answered``/``ended`` drop it.
    The caller is shown as a phone's display would show it."""

    type: Literal["incoming_call"] = "incoming_call"
    call_ref: ShortText
    state: Literal["ringing", "answered", "ended"] = "ringing"
    caller_number: ShortText | None = None
    caller_name: ShortText | None = None


class VideoVisitNotice(Payload):
    """A video visit for the bed (issue 17): ``invited`` asks the patient to answer on the TV,
    ``live`` (accepted: camera and microphone on), ``declined`` and ``ended`` drop it. The
    name of who invites only; the TV page shows the rest."""

    type: Literal["video_visit"] = "video_visit"
    visit_ref: ShortText
    state: Literal["invited", "live", "declined", "ended"]
    from_name: ShortText | None = None


class MessageNotice(Payload):
    type: Literal["message"] = "message"
    text: Annotated[str, Field(max_length=1000)]


class ErrorNotice(Payload):
    """Sent to a terminal whose payload was refused (the id says why, never the content)."""

    type: Literal["error"] = "error"
    error_id: ShortText
    message: ShortText


Notice = Annotated[
    NurseCallNotice | IncomingCallNotice | VideoVisitNotice | MessageNotice | ErrorNotice,
    Field(discriminator="type"),
]

# --- terminal → service ---------------------------------------------------------------------


class TerminalStatus(Payload):
    """Retained on ``status`` and registered as the terminal's last will (``offline``)."""

    state: Literal["online", "offline"]
    firmware: ShortText | None = None
    model: ShortText | None = None


PressId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]


class NurseCallPressed(Payload):
    """The nurse-call button or the pull cord; ``press_id`` makes a repeated send idempotent."""

    type: Literal["nurse_call"] = "nurse_call"
    source: Literal["button", "pull_cord", "tv"]
    press_id: PressId


class BadgeTap(Payload):
    """A staff badge read at the bed; the service only keeps its SHA-256."""

    type: Literal["badge_tap"] = "badge_tap"
    badge_id: Annotated[str, Field(min_length=4, max_length=128, pattern=r"^[A-Za-z0-9:_-]+$")]


class MenuAction(Payload):
    type: Literal["menu"] = "menu"
    action: Literal["tv_on", "tv_off", "meal_order", "call_switchboard", "language", "survey"]
    value: ShortText | None = None


TerminalEvent = Annotated[
    NurseCallPressed | BadgeTap | MenuAction,
    Field(discriminator="type"),
]

# --- parsers ---------------------------------------------------------------------------------

_EVENT: TypeAdapter[NurseCallPressed | BadgeTap | MenuAction] = TypeAdapter(TerminalEvent)
_NOTICE: TypeAdapter[
    NurseCallNotice | IncomingCallNotice | VideoVisitNotice | MessageNotice | ErrorNotice
] = TypeAdapter(Notice)
M = TypeVar("M")


def _decode(payload: bytes) -> dict[str, Any]:
    """The JSON object of ``payload``, bounded before and while parsing: at most 16 KiB, and
    parsed by pydantic-core's parser (jiter), which refuses nesting deeper than 200 levels
    with an error instead of recursing (``json.loads`` raised RecursionError on 16 KiB of
    brackets)."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise PayloadTooLarge(
            "mqtt.payload_too_large", "payload larger than 16 KiB", size=len(payload)
        )
    try:
        data = from_json(payload, allow_inf_nan=False)
    except (ValueError, RecursionError) as exc:
        if "recursion" in str(exc) or isinstance(exc, RecursionError):
            raise PayloadInvalid("mqtt.payload_too_deep", "payload nested too deeply") from None
        raise PayloadInvalid("mqtt.payload_not_json", "payload is not JSON") from None
    if not isinstance(data, dict):
        raise PayloadInvalid("mqtt.payload_not_object", "payload is not a JSON object")
    version = data.get("v")
    if version != VERSION:
        raise UnsupportedVersion(
            "mqtt.payload_version", "unsupported payload version", version=str(version)[:16]
        )
    return data


def _validate(adapter: TypeAdapter[M], payload: bytes) -> M:
    data = _decode(payload)
    try:
        return adapter.validate_python(data)
    except ValidationError as exc:
        # Field locations only: the rejected values may carry patient or badge data.
        fields = sorted({".".join(str(p) for p in e["loc"]) for e in exc.errors()})
        raise PayloadInvalid(
            "mqtt.payload_schema", "payload does not match its schema", fields=fields
        ) from None


_STATUS = TypeAdapter(TerminalStatus)
_CONFIG = TypeAdapter(TerminalConfig)
_CONTEXT = TypeAdapter(PatientContext)


def parse_event(payload: bytes) -> NurseCallPressed | BadgeTap | MenuAction:
    return _validate(_EVENT, payload)


def parse_status(payload: bytes) -> TerminalStatus:
    return _validate(_STATUS, payload)


def parse_config(payload: bytes) -> TerminalConfig:
    return _validate(_CONFIG, payload)


def parse_context(payload: bytes) -> PatientContext | None:
    """An empty payload is the erased context: no patient in this bed."""
    if not payload:
        return None
    return _validate(_CONTEXT, payload)


def parse_notice(
    payload: bytes,
) -> NurseCallNotice | IncomingCallNotice | VideoVisitNotice | MessageNotice | ErrorNotice:
    return _validate(_NOTICE, payload)


def schemas() -> dict[str, dict[str, Any]]:
    """JSON Schema of every channel's payload, keyed by file name."""
    return {
        "config.v1.json": _CONFIG.json_schema(),
        "context.v1.json": _CONTEXT.json_schema(),
        "notify.v1.json": _NOTICE.json_schema(),
        "status.v1.json": _STATUS.json_schema(),
        "event.v1.json": _EVENT.json_schema(),
    }
