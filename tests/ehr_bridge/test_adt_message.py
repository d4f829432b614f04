"""ADT bytes to domain commands: table-driven over every supported event, charsets, errors."""

from __future__ import annotations

import contextlib
from datetime import UTC, date, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ehr_bridge.adt_message import parse_adt
from ehr_bridge.errors import Hl7Error, IgnoredEvent, MalformedMessage, UnsupportedMessage
from tests.ehr_bridge.messages import INS_OID, adt
from wardline.domain.commands import (
    Admit,
    BedLocation,
    CancelAdmit,
    CancelDischarge,
    CancelTransfer,
    Discharge,
    MergePatients,
    SetLeave,
    Transfer,
    UpdatePatient,
)

BED = BedLocation(ward="CARDIO", room="101", bed="A")


@pytest.mark.parametrize(
    ("event", "kind", "checks"),
    [
        ("A01", Admit, {"visit_number": "V100001", "location": BED}),
        ("A04", Admit, {"visit_number": "V100001", "location": BED}),
        ("A06", Admit, {"visit_number": "V100001", "location": BED}),
        ("A02", Transfer, {"visit_number": "V100001", "location": BED}),
        ("A03", Discharge, {"visit_number": "V100001"}),
        ("A07", Discharge, {"visit_number": "V100001"}),
        ("A08", UpdatePatient, {"visit_number": "V100001", "location": BED}),
        ("A11", CancelAdmit, {"visit_number": "V100001"}),
        ("A12", CancelTransfer, {"visit_number": "V100001"}),
        ("A13", CancelDischarge, {"visit_number": "V100001"}),
        ("A21", SetLeave, {"visit_number": "V100001", "on_leave": True}),
        ("A22", SetLeave, {"visit_number": "V100001", "on_leave": False}),
    ],
)
def test_each_event_maps_to_its_command(event: str, kind: type, checks: dict[str, object]) -> None:
    message = parse_adt(adt(event, f"C-{event}"))
    assert isinstance(message.command, kind)
    for name, expected in checks.items():
        assert getattr(message.command, name) == expected
    assert message.header.control_id == f"C-{event}"
    assert message.header.trigger == event
    assert message.header.sender == "PASTEL|CHRS"
    assert message.patient_key == "CHRS/100001"


def test_admit_carries_patient_identity_and_event_time() -> None:
    command = parse_adt(adt("A01", "C1", family="DURAND", given="PAUL", sex="M")).command
    assert isinstance(command, Admit)
    assert command.patient.family_name == "DURAND"
    assert command.patient.given_name == "PAUL"
    assert command.patient.sex == "M"
    assert command.patient.birth_date == date(1952, 3, 14)
    assert command.patient.ipp == "100001"
    assert command.patient.ipp_authority == "CHRS"
    assert command.at == datetime(2026, 3, 1, 9, 15, tzinfo=UTC)  # 10:15 in Paris (CET)


def test_latin1_message_declared_8859_1_keeps_accents() -> None:
    raw = adt("A01", "C1", family="DUPRÉ", given="HÉLÈNE", charset="8859/1", encoding="latin-1")
    assert "DUPRÉ".encode("latin-1") in raw
    message = parse_adt(raw, default_charset="utf-8")
    assert isinstance(message.command, Admit)
    assert message.command.patient.family_name == "DUPRÉ"
    assert message.command.patient.given_name == "HÉLÈNE"
    assert message.codec == "iso8859-1"


def test_utf8_message_declared_unicode() -> None:
    raw = adt("A01", "C1", family="DUPRÉ", given="HÉLÈNE", charset="UNICODE UTF-8")
    command = parse_adt(raw, default_charset="latin-1").command
    assert isinstance(command, Admit)
    assert command.patient.family_name == "DUPRÉ"


@pytest.mark.parametrize(("default", "encoding"), [("iso-8859-1", "latin-1"), ("utf-8", "utf-8")])
def test_empty_msh18_uses_configured_default(default: str, encoding: str) -> None:
    raw = adt("A01", "C1", family="DUPRÉ", charset=None, encoding=encoding)
    command = parse_adt(raw, default_charset=default).command
    assert isinstance(command, Admit)
    assert command.patient.family_name == "DUPRÉ"


def test_latin1_bytes_declared_utf8_are_malformed() -> None:
    raw = adt("A01", "C1", family="DUPRÉ", charset="UNICODE UTF-8", encoding="latin-1")
    with pytest.raises(MalformedMessage) as info:
        parse_adt(raw)
    assert info.value.error_id == "hl7.bad_encoding"


def test_unknown_charset_is_malformed() -> None:
    with pytest.raises(MalformedMessage) as info:
        parse_adt(adt("A01", "C1", charset="KLINGON"))
    assert info.value.error_id == "hl7.unknown_charset"


@pytest.mark.parametrize(("status", "expected"), [("VALI", "1520399123456"), ("PROV", None)])
def test_ins_only_when_qualified(status: str, expected: str | None) -> None:
    raw = adt("A01", "C1", ins="1520399123456", identity_status=status)
    command = parse_adt(raw).command
    assert isinstance(command, Admit)
    assert command.patient.ins == expected
    assert command.patient.ins_oid == (INS_OID if expected else None)
    assert command.patient.ipp == "100001"  # the INS is never taken as the IPP


def test_zbe_movement_date_wins_over_evn() -> None:
    zbe = "ZBE|MVT-77^PASTEL|20260302083000||INSERT|N||CARDIO^^^^^^UF^^^CARDIO"
    message = parse_adt(adt("A02", "C1", zbe=zbe))
    assert message.movement is not None
    assert message.movement.movement_id == "MVT-77"
    assert message.movement.action == "INSERT"
    assert isinstance(message.command, Transfer)
    assert message.command.at == datetime(2026, 3, 2, 7, 30, tzinfo=UTC)  # 08:30 in Paris


def test_merge_reads_mrg() -> None:
    command = parse_adt(adt("A40", "C1", ipp="200", mrg_ipp="199")).command
    assert isinstance(command, MergePatients)
    assert command.surviving.ipp == "200"
    assert command.merged_ipp == "199"
    assert command.merged_ipp_authority == "CHRS"


def test_used_name_preferred_over_birth_name() -> None:
    raw = adt("A01", "C1").replace(
        b"MARTIN^JEANNE^^^^^L", b"MARTIN^JEANNE MARIE^^^^^L~DURAND^JEANNE^^^^^D"
    )
    command = parse_adt(raw).command
    assert isinstance(command, Admit)
    assert (command.patient.family_name, command.patient.given_name) == ("DURAND", "JEANNE")


def test_non_disclosure_from_pv2_22() -> None:
    command = parse_adt(adt("A01", "C1", non_disclosure=True)).command
    assert isinstance(command, Admit)
    assert command.patient.non_disclosure is True


def test_lf_segment_separators_are_accepted() -> None:
    assert isinstance(parse_adt(adt("A03", "C1", newline="\n")).command, Discharge)


@pytest.mark.parametrize(
    ("raw", "error_id", "family"),
    [
        (b"", "hl7.empty", MalformedMessage),
        (b"PID|||1^^^X^PI\r", "hl7.no_msh", MalformedMessage),
        (adt("A01", ""), "hl7.no_control_id", MalformedMessage),
        (adt("A01", "C1", visit=""), "hl7.no_visit", MalformedMessage),
        (adt("A01", "C1", ward="", room="", bed=""), "hl7.no_location", MalformedMessage),
        (adt("A01", "C1", ipp=""), "hl7.no_ipp", MalformedMessage),
        (adt("A05", "C1"), "hl7.ignored_event", IgnoredEvent),
        (adt("A52", "C1"), "hl7.unsupported_event", UnsupportedMessage),
        (adt("Z99", "C1"), "hl7.unsupported_event", UnsupportedMessage),
        (adt("A40", "C1"), "hl7.no_mrg", MalformedMessage),
    ],
)
def test_unusable_messages_have_clear_errors(raw: bytes, error_id: str, family: type) -> None:
    with pytest.raises(family) as info:
        parse_adt(raw)
    assert info.value.error_id == error_id


def test_non_adt_message_type_is_unsupported() -> None:
    raw = adt("A01", "C1").replace(b"ADT^A01^ADT_A01", b"ORU^R01^ORU_R01")
    with pytest.raises(UnsupportedMessage):
        parse_adt(raw)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_never_crash(raw: bytes) -> None:
    try:
        parse_adt(b"MSH|^~\\&|" + raw)
        parse_adt(raw)
    except Hl7Error:
        pass


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=400), st.binary(min_size=1, max_size=8))
def test_corrupted_valid_message_never_crashes(cut: int, junk: bytes) -> None:
    raw = adt("A01", "C1")
    with contextlib.suppress(Hl7Error):
        parse_adt(raw[:cut] + junk + raw[cut:])


def test_the_builder_sends_utf8_when_a_name_does_not_fit_in_latin1() -> None:
    """The demo's feed admits Nguyễn-Château: ISO 8859-1 cannot carry "ễ", so the message
    says UNICODE UTF-8 in MSH-18 and is encoded so; other names stay in 8859/1."""
    from ehr_bridge.adt_builder import AdtBed, AdtPatient, adt_message

    bed = AdtBed(ward="CARDIO", room="101", bed="A")
    for family, charset, encoding in (
        ("Nguyễn-Château", "UNICODE UTF-8", "utf-8"),
        ("Lefèvre-Bérard", "8859/1", "latin-1"),
    ):
        patient = AdtPatient(
            ipp="8000099",
            visit_number="V8000099",
            family=family,
            given="François",
            birth_date=date(1950, 3, 14),
            sex="M",
        )
        raw = adt_message("A01", patient, bed, "C-1")
        assert raw.split(b"|")[17] == charset.encode()
        command = parse_adt(raw).command
        assert isinstance(command, Admit) and command.patient.family_name == family
        assert raw.decode(encoding).count(family) == 1
