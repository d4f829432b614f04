"""HL7 v2 ADT messages (IHE PAM, with its French extension) to the domain's commands.

Pure functions over bytes: :func:`parse_adt` decodes with the MSH-18 charset, parses with
python-hl7 and maps the trigger event to one command of :mod:`wardline.domain.commands`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from zoneinfo import ZoneInfo

import hl7

from ehr_bridge.errors import IgnoredEvent, MalformedMessage, UnsupportedMessage
from ehr_bridge.hl7_fields import (
    MessageHeader,
    birth_date,
    field,
    has_segment,
    parse_message,
    read_header,
    repetitions,
)
from ehr_bridge.hl7_time import Hl7Time, LocalZones, parse_hl7_time
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
IGNORED_EVENTS = frozenset(
    {"A05", "A14", "A15", "A16", "A25", "A26", "A27", "A28", "A29", "A31", "A32", "A33", "A38"}
)
"""Known ADT events a hospital sends that Wardline has no use for (pre-admissions, pending
movements, person-only updates): acknowledged AA and ignored. Anything else unknown is AR."""

MAX_CONTROL_ID = 199
"""MSH-10 length: ST 20 in HL7 v2.5, 199 from v2.7 (senders send UUIDs and longer)."""
MAX_NAMESPACE = 63
"""MSH-3.1 and MSH-4.1 (IS 20 in the standard), kept whole in the sender key."""
MAX_KEY = 64
"""Patient identifier, its authority and the visit number (the columns that hold them)."""


@dataclass(frozen=True, kw_only=True)
class Movement:
    """The IHE PAM France ZBE segment: the movement this message creates, updates or cancels."""

    movement_id: str
    at: Hl7Time | None
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
    time: Hl7Time | None = None
    """When the movement happened (ZBE-2, else EVN-6), the command's ``at``: when the local
    time happened twice, ``command.at`` is its first occurrence and ``time.later`` the second."""


def _identifiers(msg: hl7.Message, seg: str, fld: int) -> list[dict[str, str]]:
    found = []
    for rep in range(1, repetitions(msg, seg, fld) + 1):
        found.append(
            {
                "id": field(msg, seg, fld, rep, 1),
                "authority": field(msg, seg, fld, rep, 4, 1),
                "authority_oid": field(msg, seg, fld, rep, 4, 2),
                "type": field(msg, seg, fld, rep, 5).upper(),
            }
        )
    return [ident for ident in found if ident["id"]]


def _pick_ipp(idents: list[dict[str, str]]) -> dict[str, str] | None:
    usable = [i for i in idents if i["type"] not in INS_TYPES and i["authority_oid"] != INS_OID]
    typed = [i for i in usable if i["type"] == "PI"]
    chosen = typed or usable
    return chosen[0] if chosen else None


def _name_repetition(msg: hl7.Message) -> int:
    """The PID-5 repetition to use: the used name (type D), else the legal one (L), else the
    first (IHE PAM France sends both the birth name and the used name)."""
    types = [field(msg, "PID", 5, r, 7).upper() for r in range(1, repetitions(msg, "PID", 5) + 1)]
    for wanted in ("D", "L"):
        if wanted in types:
            return types.index(wanted) + 1
    return 1


def read_patient(msg: hl7.Message) -> PatientData:
    if not has_segment(msg, "PID"):
        raise MalformedMessage("hl7.no_pid", "the message has no PID segment")
    idents = _identifiers(msg, "PID", 3)
    ipp = _pick_ipp(idents)
    if ipp is None:
        raise MalformedMessage("hl7.no_ipp", "PID-3 has no patient identifier (IPP)")
    ins: dict[str, str] | None = None
    qualified = field(msg, "PID", 32).upper() == "VALI"
    for ident in idents:
        if ident["authority_oid"] == INS_OID and qualified:
            ins = ident
            break
    name_rep = _name_repetition(msg)
    family = field(msg, "PID", 5, name_rep, 1)
    if not family:
        raise MalformedMessage("hl7.no_name", "PID-5 has no family name")
    sex = field(msg, "PID", 8).upper()
    return PatientData(
        ipp=ipp["id"],
        ipp_authority=ipp["authority"] or ipp["authority_oid"],
        family_name=family,
        given_name=field(msg, "PID", 5, name_rep, 2),
        ins=ins["id"] if ins else None,
        ins_oid=INS_OID if ins else None,
        birth_date=birth_date(field(msg, "PID", 7)),
        sex=sex if sex in {"F", "M", "O", "U"} else "U",
        preferred_language=field(msg, "PID", 15).lower() or None,
        non_disclosure=field(msg, "PV2", 22).upper() == "Y",
    )


def read_location(msg: hl7.Message) -> BedLocation | None:
    ward, room, bed = (field(msg, "PV1", 3, 1, c) for c in (1, 2, 3))
    if not (ward or room or bed):
        return None
    return BedLocation(ward=ward or None, room=room or None, bed=bed or None)


def read_visit_number(msg: hl7.Message) -> str:
    return field(msg, "PV1", 19, 1, 1) or field(msg, "PID", 18, 1, 1)


def read_movement(msg: hl7.Message, zone: ZoneInfo) -> Movement | None:
    if not has_segment(msg, "ZBE"):
        return None
    return Movement(
        movement_id=field(msg, "ZBE", 1, 1, 1),
        at=parse_hl7_time(field(msg, "ZBE", 2), zone),
        action=field(msg, "ZBE", 4).upper(),
        historic=field(msg, "ZBE", 5).upper() == "Y",
        original_trigger=field(msg, "ZBE", 6),
        ward=field(msg, "ZBE", 7, 1, 1),
    )


def _need_visit(msg: hl7.Message) -> str:
    visit = read_visit_number(msg)
    if not visit:
        raise MalformedMessage("hl7.no_visit", "PV1-19 (visit number) is empty")
    return visit


def _fits(value: str, limit: int, what: str, error_id: str) -> None:
    """Keys are kept whole: one longer than it may be is refused, never cut."""
    if len(value) > limit:
        raise MalformedMessage(
            error_id, f"{what} is {len(value)} characters long (at most {limit})", limit=limit
        )


def _need_location(msg: hl7.Message) -> BedLocation:
    location = read_location(msg)
    if location is None:
        raise MalformedMessage("hl7.no_location", "PV1-3 (assigned location) is empty")
    return location


def movement_time(msg: hl7.Message, movement: Movement | None, zone: ZoneInfo) -> Hl7Time | None:
    return (movement.at if movement else None) or parse_hl7_time(field(msg, "EVN", 6), zone)


def to_command(
    msg: hl7.Message, trigger: str, at: datetime | None, patient: PatientData
) -> Command:
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


def parse_adt(
    raw: bytes,
    default_charset: str = "iso-8859-1",
    ward_aliases: dict[str, str] | None = None,
    *,
    zones: LocalZones | None = None,
    ignored_events: frozenset[str] = IGNORED_EVENTS,
) -> AdtMessage:
    """Bytes of one ADT message to its command; :class:`MalformedMessage` or
    :class:`UnsupportedMessage` when it cannot be used, :class:`IgnoredEvent` for one of
    ``ignored_events``. ``ward_aliases`` maps HL7 points of care (PV1-3.1, e.g. a French UF
    code) to inventory ward codes; ``zones`` gives the zone of times without an offset."""
    try:
        message = _parse_adt(
            raw, default_charset, zones or LocalZones(), ignored_events, ward_aliases or {}
        )
    except (IndexError, ValueError, TypeError, AttributeError) as exc:
        # python-hl7 trips on some broken structures: that is a malformed message too
        raise MalformedMessage("hl7.unparseable", "the message cannot be parsed") from exc
    location = getattr(message.command, "location", None)
    if ward_aliases and location is not None and location.ward in ward_aliases:
        moved = replace(location, ward=ward_aliases[location.ward])
        message = replace(message, command=replace(message.command, location=moved))
    return message


def _parse_adt(
    raw: bytes,
    default_charset: str,
    zones: LocalZones,
    ignored_events: frozenset[str],
    ward_aliases: dict[str, str],
) -> AdtMessage:
    msg, codec = parse_message(raw, default_charset)
    header = read_header(msg, codec)
    check_header(header, field(msg, "EVN", 1), ignored_events)
    ward = field(msg, "PV1", 3, 1, 1)
    zone = zones.of(header.sending_facility, ward_aliases.get(ward, ward))
    movement = read_movement(msg, zone)
    patient = read_patient(msg)
    _fits(patient.ipp, MAX_KEY, "PID-3.1 (patient identifier)", "hl7.ipp_too_long")
    _fits(patient.ipp_authority, MAX_KEY, "PID-3.4 (its authority)", "hl7.ipp_too_long")
    _fits(read_visit_number(msg), MAX_KEY, "PV1-19 (visit number)", "hl7.visit_too_long")
    time = movement_time(msg, movement, zone)
    command = to_command(msg, header.trigger, time.at if time else None, patient)
    return AdtMessage(
        header=header,
        codec=codec,
        patient_key=f"{patient.ipp_authority}/{patient.ipp}",
        command=command,
        movement=movement,
        time=time,
    )


def check_header(header: MessageHeader, evn_trigger: str, ignored_events: frozenset[str]) -> None:
    """MSH-10 present and whole, the sender's names whole, an ADT message whose trigger
    Wardline applies (or ignores on purpose: :class:`IgnoredEvent`)."""
    if not header.control_id:
        raise MalformedMessage("hl7.no_control_id", "MSH-10 (message control id) is empty")
    _fits(header.control_id, MAX_CONTROL_ID, "MSH-10 (control id)", "hl7.control_id_too_long")
    _fits(header.sending_application, MAX_NAMESPACE, "MSH-3", "hl7.sender_too_long")
    _fits(header.sending_facility, MAX_NAMESPACE, "MSH-4", "hl7.sender_too_long")
    if not header.message_type:
        raise MalformedMessage("hl7.no_message_type", "MSH-9 (message type) is empty")
    if header.message_type != "ADT":
        raise UnsupportedMessage(
            "hl7.unsupported_type", f"unsupported message type {header.message_type!r}"
        )
    if not header.trigger:
        raise MalformedMessage("hl7.no_trigger", "MSH-9.2 (trigger event) is empty")
    if evn_trigger and evn_trigger != header.trigger:
        raise MalformedMessage(
            "hl7.trigger_mismatch",
            f"MSH-9.2 says {header.trigger!r} and EVN-1 {evn_trigger!r}",
        )
    if header.trigger in ignored_events and header.trigger not in SUPPORTED_EVENTS:
        raise IgnoredEvent("hl7.ignored_event", f"ADT event {header.trigger} is not used here")
    if header.trigger not in SUPPORTED_EVENTS:
        raise UnsupportedMessage(
            "hl7.unsupported_event", f"unsupported ADT event {header.trigger!r}"
        )
