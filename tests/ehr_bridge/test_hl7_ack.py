"""Acknowledgements parse back with python-hl7 and answer the right message."""

from __future__ import annotations

from dataclasses import replace

import hl7
import pytest

from ehr_bridge.adt_message import parse_adt
from ehr_bridge.hl7_ack import UNKNOWN_KEY, AckError, build_ack
from ehr_bridge.hl7_fields import header_of
from tests.ehr_bridge.messages import adt


@pytest.mark.parametrize("code", ["AA", "AE", "AR"])
def test_ack_answers_the_message(code: str) -> None:
    header = parse_adt(adt("A01", "CTRL-9")).header
    error = AckError(code=UNKNOWN_KEY, text="unknown bed CARDIO/101/A") if code != "AA" else None
    ack = hl7.parse(build_ack(header, code, error))
    assert str(ack.segment("MSA")(1)) == code
    assert str(ack.segment("MSA")(2)) == "CTRL-9"
    msh = ack.segment("MSH")
    assert str(msh(3)) == "WARDLINE"  # we answer as the receiving application
    assert str(msh(5)) == "PASTEL" and str(msh(6)) == "CHRS"
    assert str(msh(9)) == "ACK^A01^ACK"
    if error:
        err = ack.segment("ERR")
        assert str(err(3)(1)(1)) == UNKNOWN_KEY
        assert str(err(4)) == "E"
        assert ack.unescape(str(err(8))) == "unknown bed CARDIO/101/A"


def test_error_text_with_delimiters_is_escaped() -> None:
    header = parse_adt(adt("A01", "C1")).header
    ack = hl7.parse(build_ack(header, "AE", AckError(code="207", text="bad | field ^ x")))
    assert len(ack.segment("ERR")) == 9
    assert ack.unescape(str(ack.segment("ERR")(8))) == "bad | field ^ x"


def test_ack_without_any_header_is_still_valid() -> None:
    ack = hl7.parse(build_ack(None, "AR", AckError(code="101", text="no MSH")))
    assert str(ack.segment("MSA")(1)) == "AR"
    assert header_of(b"garbage", "utf-8") is None


def test_ack_declares_the_charset_of_the_message() -> None:
    raw = adt("A01", "C1", family="DUPRÉ", charset="8859/1", encoding="latin-1")
    header = parse_adt(raw).header
    text = build_ack(header, "AE", AckError(code="204", text="lit inconnu: CHAMBRE É"))
    ack = hl7.parse(text.encode("latin-1").decode("latin-1"))
    assert str(ack.segment("MSH")(18)) == "8859/1"
    assert str(ack.segment("MSH")(12)) == "2.5"


@pytest.mark.parametrize(
    "msh",
    [b"MSH|&|PAS", b"MSH|^^\\&|PAS", b"MSH|^~\\|PAS", b"MSHA^~\\&APAS", b"MSH|^~ &|PAS"],
)
def test_ack_to_a_garbled_msh_uses_the_standard_delimiters(msh: bytes) -> None:
    raw = adt("A01", "G1").replace(b"MSH|^~\\&|PASTEL", msh + b"TEL", 1)
    header = header_of(raw, "utf-8")
    ack = hl7.parse(build_ack(header, "AR", AckError(code="101", text="bad MSH")))
    assert str(ack.segment("MSA")(1)) == "AR"
    assert str(ack.segment("MSH")(1)) == "|" and str(ack.segment("MSH")(2)) == "^~\\&"


def test_ack_escapes_what_it_echoes() -> None:
    header = parse_adt(adt("A01", "CTRL-9")).header
    tricky = replace(header, control_id="A|B^C\x00", sending_facility="F~G")
    ack = hl7.parse(build_ack(tricky, "AA"))
    assert ack.unescape(str(ack.segment("MSA")(2))) == "A|B^C\x00"
    assert ack.unescape(str(ack.segment("MSH")(6))) == "F~G"
