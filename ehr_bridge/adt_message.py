"""HL7 v2 ADT messages (IHE PAM, with its French extension) to the domain's commands.

Pure functions over bytes: :func:`parse_adt` decodes with the MSH-18 charset, parses with
python-hl7 and maps the trigger event to one command of :mod:`wardline.domain.commands`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

import hl7

from ehr_bridge.errors import MalformedMessage, UnsupportedMessage
from ehr_bridge.hl7_charset import decode_message
from wardline.domain.commands import (
    Admit,
    BedLocation,
    CancelAdmit,
    CancelDischarge,
    CancelTransfer,
    Discharge,
    MergePatients,
    PatientData,
    SetLeave,
    Transfer,
    UpdatePatient,
)

Command = (
    Admit
    | Transfer
    | Discharge
    | CancelAdmit
    | CancelTransfer
    | CancelDischarge
    | UpdatePatient
    | SetLeave
    | MergePatients
)

INS_OID = "1.2.250.1.213.1.4.8"
INS_TYPES = frozenset({"INS", "INS-NIR", "INS-NIA"})
SUPPORTED_EVENTS = frozenset(
    {"A01", "A02", "A03", "A04", "A06", "A07", "A08", "A11", "A12", "A13", "A21", "A22", "A40"}
)


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

    @property
    def sender(self) -> str:
        return f"{self.sending_application}|{self.sending_facility}"


@dataclass(frozen=True, kw_only=True)
class Movement:
    """The IHE PAM France ZBE segment: the movement this message creates, updates or cancels."""

    movement_id: str
    at: datetime | None
    action: str
    historic: bool
    original_trigger: str
    ward: str


@dataclass(frozen=True, kw_only=True)
class AdtMessage:
    header: MessageHeader
    codec: str
    patient_key: str
    """Authority and IPP of the patient: messages with the same key are applied in order."""
    command: Command
    movement: Movement | None


def _field(msg: hl7.Message, seg: str, fld: int, rep: int = 1, comp: int = 1, sub: int = 1) -> str:
    try:
        value = msg.extract_field(seg, 1, fld, rep, comp, sub)
    except (IndexError, KeyError):
        return ""
    return str(msg.unescape(str(value))).strip() if value else ""


def _has(msg: hl7.Message, seg: str) -> bool:
    try:
        msg.segment(seg)
    except (KeyError, IndexError):
        return False
    return True


def _repetitions(msg: hl7.Message, seg: str, fld: int) -> int:
    try:
        raw = str(msg.segment(seg)(fld))
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


def _birth_date(value: str) -> date | None:
    stamp = parse_hl7_datetime(value[:8]) if value else None
    return stamp.date() if stamp else None


def read_header(msg: hl7.Message, codec: str) -> MessageHeader:
    return MessageHeader(
        field_separator=msg.separators[1],
        encoding_characters=msg.separators[3] + msg.separators[2] + msg.esc + msg.separators[4],
        sending_application=_field(msg, "MSH", 3),
        sending_facility=_field(msg, "MSH", 4),
        receiving_application=_field(msg, "MSH", 5),
        receiving_facility=_field(msg, "MSH", 6),
        message_type=_field(msg, "MSH", 9, 1, 1),
        trigger=_field(msg, "MSH", 9, 1, 2) or _field(msg, "EVN", 1),
        control_id=_field(msg, "MSH", 10),
        processing_id=_field(msg, "MSH", 11) or "P",
        version=_field(msg, "MSH", 12) or "2.5",
        charset=codec,
    )


def _identifiers(msg: hl7.Message, seg: str, fld: int) -> list[dict[str, str]]:
    found = []
    for rep in range(1, _repetitions(msg, seg, fld) + 1):
        found.append(
            {
                "id": _field(msg, seg, fld, rep, 1),
                "authority": _field(msg, seg, fld, rep, 4, 1),
                "authority_oid": _field(msg, seg, fld, rep, 4, 2),
                "type": _field(msg, seg, fld, rep, 5).upper(),
            }
        )
    return [ident for ident in found if ident["id"]]


def _pick_ipp(idents: list[dict[str, str]]) -> dict[str, str] | None:
    usable = [i for i in idents if i["type"] not in INS_TYPES and i["authority_oid"] != INS_OID]
    typed = [i for i in usable if i["type"] == "PI"]
    chosen = typed or usable
    return chosen[0] if chosen else None


def read_patient(msg: hl7.Message) -> PatientData:
    if not _has(msg, "PID"):
        raise MalformedMessage("hl7.no_pid", "the message has no PID segment")
    idents = _identifiers(msg, "PID", 3)
    ipp = _pick_ipp(idents)
    if ipp is None:
        raise MalformedMessage("hl7.no_ipp", "PID-3 has no patient identifier (IPP)")
    ins: dict[str, str] | None = None
    qualified = _field(msg, "PID", 32).upper() == "VALI"
    for ident in idents:
        if ident["authority_oid"] == INS_OID and qualified:
            ins = ident
            break
    family = _field(msg, "PID", 5, 1, 1)
    if not family:
        raise MalformedMessage("hl7.no_name", "PID-5 has no family name")
    sex = _field(msg, "PID", 8).upper()
    return PatientData(
        ipp=ipp["id"],
        ipp_authority=ipp["authority"] or ipp["authority_oid"],
        family_name=family,
        given_name=_field(msg, "PID", 5, 1, 2),
        ins=ins["id"] if ins else None,
        ins_oid=INS_OID if ins else None,
        birth_date=_birth_date(_field(msg, "PID", 7)),
        sex=sex if sex in {"F", "M", "O", "U"} else "U",
        preferred_language=_field(msg, "PID", 15).lower() or None,
        non_disclosure=_field(msg, "PV2", 22).upper() == "Y",
    )


def read_location(msg: hl7.Message) -> BedLocation | None:
    ward, room, bed = (_field(msg, "PV1", 3, 1, c) for c in (1, 2, 3))
    if not (ward or room or bed):
        return None
    return BedLocation(ward=ward or None, room=room or None, bed=bed or None)


def read_visit_number(msg: hl7.Message) -> str:
    return _field(msg, "PV1", 19, 1, 1) or _field(msg, "PID", 18, 1, 1)


def read_movement(msg: hl7.Message) -> Movement | None:
    if not _has(msg, "ZBE"):
        return None
    return Movement(
        movement_id=_field(msg, "ZBE", 1, 1, 1),
        at=parse_hl7_datetime(_field(msg, "ZBE", 2)),
        action=_field(msg, "ZBE", 4).upper(),
        historic=_field(msg, "ZBE", 5).upper() == "Y",
        original_trigger=_field(msg, "ZBE", 6),
        ward=_field(msg, "ZBE", 7, 1, 1),
    )


def _need_visit(msg: hl7.Message) -> str:
    visit = read_visit_number(msg)
    if not visit:
        raise MalformedMessage("hl7.no_visit", "PV1-19 (visit number) is empty")
    return visit


def _need_location(msg: hl7.Message) -> BedLocation:
    location = read_location(msg)
    if location is None:
        raise MalformedMessage("hl7.no_location", "PV1-3 (assigned location) is empty")
    return location


def to_command(msg: hl7.Message, trigger: str, movement: Movement | None) -> Command:
    patient = read_patient(msg)
    at = (movement.at if movement else None) or parse_hl7_datetime(_field(msg, "EVN", 6))
    if trigger in {"A01", "A04", "A06"}:
        return Admit(
            visit_number=_need_visit(msg), patient=patient, location=_need_location(msg), at=at
        )
    if trigger == "A02":
        return Transfer(visit_number=_need_visit(msg), location=_need_location(msg), at=at)
    if trigger in {"A03", "A07"}:
        return Discharge(visit_number=_need_visit(msg), at=at)
    if trigger == "A08":
        return UpdatePatient(
            patient=patient,
            visit_number=read_visit_number(msg) or None,
            location=read_location(msg),
        )
    if trigger == "A11":
        return CancelAdmit(visit_number=_need_visit(msg))
    if trigger == "A12":
        return CancelTransfer(visit_number=_need_visit(msg))
    if trigger == "A13":
        return CancelDischarge(visit_number=_need_visit(msg))
    if trigger in {"A21", "A22"}:
        return SetLeave(visit_number=_need_visit(msg), on_leave=trigger == "A21")
    if trigger == "A40":
        merged = _identifiers(msg, "MRG", 1)
        old = _pick_ipp(merged)
        if old is None:
            raise MalformedMessage("hl7.no_mrg", "A40 without a prior identifier in MRG-1")
        return MergePatients(
            surviving=patient,
            merged_ipp=old["id"],
            merged_ipp_authority=old["authority"] or old["authority_oid"],
        )
    raise UnsupportedMessage(
        "hl7.unsupported_event", f"unsupported ADT event {trigger!r}", trigger=trigger
    )


def parse_message(raw: bytes, default_charset: str) -> tuple[hl7.Message, str]:
    """Decode and parse; the python-hl7 message and the codec used."""
    decoded = decode_message(raw, default_charset)
    try:
        msg = hl7.parse(decoded.text)
    except Exception as exc:  # python-hl7 raises bare ParseException/ValueError
        raise MalformedMessage("hl7.unparseable", "the message cannot be parsed") from exc
    if not _has(msg, "MSH"):
        raise MalformedMessage("hl7.no_msh", "the message has no MSH segment")
    return msg, decoded.charset


def parse_adt(raw: bytes, default_charset: str = "iso-8859-1") -> AdtMessage:
    """Bytes of one ADT message to its command; :class:`MalformedMessage` or
    :class:`UnsupportedMessage` when it cannot be used."""
    try:
        return _parse_adt(raw, default_charset)
    except (IndexError, ValueError, TypeError, AttributeError) as exc:
        # python-hl7 trips on some broken structures: that is a malformed message too
        raise MalformedMessage("hl7.unparseable", "the message cannot be parsed") from exc


def _parse_adt(raw: bytes, default_charset: str) -> AdtMessage:
    msg, codec = parse_message(raw, default_charset)
    header = read_header(msg, codec)
    if not header.control_id:
        raise MalformedMessage("hl7.no_control_id", "MSH-10 (message control id) is empty")
    if header.message_type != "ADT":
        raise UnsupportedMessage(
            "hl7.unsupported_type", f"unsupported message type {header.message_type!r}"
        )
    if header.trigger not in SUPPORTED_EVENTS:
        raise UnsupportedMessage(
            "hl7.unsupported_event", f"unsupported ADT event {header.trigger!r}"
        )
    movement = read_movement(msg)
    command = to_command(msg, header.trigger, movement)
    patient = command.surviving if isinstance(command, MergePatients) else read_patient(msg)
    return AdtMessage(
        header=header,
        codec=codec,
        patient_key=f"{patient.ipp_authority}/{patient.ipp}",
        command=command,
        movement=movement,
    )


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
