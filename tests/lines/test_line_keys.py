"""The AstDB keys of a line (pure) and which beds and DIDs an event touches."""

from __future__ import annotations

from dataclasses import replace

from telephony.lines.bed_lines import touched
from telephony.lines.keys import LineFacts, caller_name, line_keys, split_key
from wardline.domain import events as ev
from wardline.domain.line_events import LineNumberSwapped

FACTS = LineFacts(
    stay_id=7,
    extension="2001",
    bed_label="CARDIO-101-A",
    did="0388110000",
    barring="local",
    do_not_disturb=False,
    suspended=False,
    on_leave=False,
    non_disclosure=False,
    family_name="Dupré",
    given_name="Hélène",
)


def bed(ext: str) -> ev.BedRef:
    return ev.BedRef(bed_id=1, label=f"B{ext}", extension=ext, ward_code="W", terminal_id=None)


def test_active_line_keys() -> None:
    assert line_keys(FACTS) == {
        "bed/2001/active": "1",
        "bed/2001/barring": "local",
        "bed/2001/dnd": "0",
        "bed/2001/cidname": "DUPRÉ Hélène",
        "did/0388110000": "2001",
    }


def test_unknown_barring_falls_back_to_internal_and_suspension_unroutes_did() -> None:
    keys = line_keys(replace(FACTS, barring="everywhere", suspended=True))
    assert keys["bed/2001/barring"] == "internal"
    assert keys["bed/2001/active"] == "0"
    assert "did/0388110000" not in keys


def test_caller_name_cannot_inject_ami_headers_and_is_bounded() -> None:
    evil = replace(FACTS, family_name="X\r\nAction: Originate\r\n", given_name="a" * 80)
    name = caller_name(evil)
    assert "\r" not in name and "\n" not in name and ":" not in name
    assert len(name) <= 40
    assert caller_name(replace(FACTS, family_name="\r\n", given_name="")) == "Chambre CARDIO-101-A"


def test_split_key() -> None:
    assert split_key("bed/2001/active") == ("bed/2001", "active")
    assert split_key("did/0388110000") == ("did", "0388110000")


def test_events_touch_their_beds_and_numbers() -> None:
    moved = ev.StayTransferred(
        stay_id=3, visit_number="V", patient_id=1, from_bed=bed("2001"), to_bed=bed("2002"),
        did="0388110001",
    )  # fmt: skip
    assert touched(moved) == ({"2001", "2002"}, {"0388110001"}, 3)
    swap = LineNumberSwapped(bed=bed("2003"), stay_id=4, old_did="0388110002", did="0388110009")
    assert touched(swap) == ({"2003"}, {"0388110002", "0388110009"}, 4)
    gone = ev.StayDischarged(stay_id=5, visit_number="V", patient_id=1, bed=None, did=None)
    assert touched(gone) == (set(), set(), 5)
