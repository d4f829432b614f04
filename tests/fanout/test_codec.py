"""The codec of the events between instances: every crossing event survives the wire, and
nothing garbled, unknown or mistyped is turned into an event."""

from __future__ import annotations

import contextlib
import dataclasses
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wardline.domain.call_events import CallRinging, PhoneStateChanged
from wardline.domain.ehr_events import AdtMessageRefused, BedsideWriteRefused
from wardline.domain.events import (
    BedRef,
    DomainEvent,
    InventoryLoaded,
    LineChanged,
    PatientUpdated,
    StayAdmitted,
    StayCancelled,
    StayDischarged,
    StayLeaveChanged,
    StayReopened,
    StayTransferred,
)
from wardline.domain.fanout_events import ClusterResync
from wardline.domain.line_events import LineNumberSwapped
from wardline.domain.nurse_call_events import (
    NurseCallAcknowledged,
    NurseCallAnsweredAtPhone,
    NurseCallCleared,
    NurseCallEscalated,
    NurseCallRaised,
    NurseCallRingFailed,
    NurseCallRinging,
    NurseCallRingWanted,
)
from wardline.domain.session_events import SessionsEnded
from wardline.domain.terminal_events import TerminalOfflineAlert
from wardline.fanout.codec import (
    CROSSING,
    Notice,
    NoticeInvalid,
    StoredRef,
    Unsent,
    crosses,
    decode,
    encode,
    encode_ref,
    encode_unsent,
)

AT = datetime(2026, 3, 29, 0, 59, 59, 123456, tzinfo=UTC)
BED = BedRef(bed_id=7, label="C-101-A", extension="2101", ward_code="CARD", terminal_id="tv-7")
BED2 = BedRef(bed_id=8, label="C-101-B", extension="2102", ward_code="CARD", terminal_id=None)
NC = {"call_id": 41, "bed_label": "C-101-A", "ward_code": "CARD", "at": AT}
STAY = {"stay_id": 3, "visit_number": "V-1", "patient_id": 12, "at": AT}

SAMPLES: list[DomainEvent] = [
    StayAdmitted(**STAY, bed=BED, did="0142000001"),
    StayTransferred(**STAY, from_bed=BED, to_bed=BED2, did=None),
    StayDischarged(**STAY, bed=None, did="0142000001"),
    StayCancelled(**STAY, bed=BED, did=None),
    StayReopened(**STAY, bed=BED, did="0142000002"),
    StayLeaveChanged(**STAY, bed=None, on_leave=True),
    PatientUpdated(patient_id=12, stay_id=None, at=AT),
    LineChanged(bed=BED, stay_id=3, at=AT),
    LineNumberSwapped(bed=BED, stay_id=3, old_did="0142000001", did=None, at=AT),
    NurseCallRaised(**NC, nurse_station_extension=None, source="button"),
    NurseCallEscalated(
        **NC, level=2, level_name="charge_nurse", extension="2900", target_ward_code=None
    ),
    NurseCallAcknowledged(**NC, by="phone:2900", response_seconds=12, via="phone"),
    NurseCallCleared(**NC, by="nurse.anne", response_seconds=None),
    NurseCallRinging(**NC, phones=("2900", "2901")),
    NurseCallRingFailed(**NC, phones=(), reason="pbx_unreachable"),
    BedsideWriteRefused(visit_number="V-1", business_id="adm-1", kind="vitals", at=AT),
    AdtMessageRefused(message_id=99, error_id="stay.bed_occupied", at=AT),
    SessionsEnded(session_ids=("a" * 64, "b" * 64), at=AT),
]


def test_every_crossing_type_has_a_sample() -> None:
    assert {type(e) for e in SAMPLES} == set(CROSSING)


@pytest.mark.parametrize("event", SAMPLES, ids=lambda e: e.name)
def test_round_trip_gives_the_same_event_marked_remote(event: DomainEvent) -> None:
    notice = decode(encode(event, "host-a:12:abc"))
    assert isinstance(notice, Notice)
    assert notice.origin == "host-a:12:abc"
    assert notice.event == event
    assert type(notice.event) is type(event)
    assert notice.event.origin == "host-a:12:abc" and notice.event.remote
    assert not event.remote
    for f in dataclasses.fields(event):
        if f.name != "origin":
            assert type(getattr(notice.event, f.name)) is type(getattr(event, f.name)) or (
                f.name == "response_seconds"  # an int given to a float field comes back float
            )


def test_a_float_field_given_an_int_comes_back_a_float() -> None:
    event = NurseCallAcknowledged(**NC, by="x", response_seconds=12)
    back = decode(encode(event, "a"))
    assert isinstance(back, Notice)
    assert isinstance(back.event, NurseCallAcknowledged)
    assert back.event.response_seconds == 12.0 and isinstance(back.event.response_seconds, float)


def test_the_time_keeps_its_instant_across_offsets() -> None:
    paris = timezone(timedelta(hours=2))
    event = PatientUpdated(patient_id=1, stay_id=2, at=AT.astimezone(paris))
    back = decode(encode(event, "a"))
    assert isinstance(back, Notice) and back.event.at == AT


@pytest.mark.parametrize(
    "event",
    [
        CallRinging(
            call_id="c1", caller_number="1", caller_name="", called_extension="2101",
            ringing_extension="2101",
        ),
        PhoneStateChanged(extension="2101", state="idle", previous=None),
        NurseCallRingWanted(
            **NC, level=0, phones=("2900",), caller_name="C-101-A", caller_number="2101",
            bed_extension="2101", names_from_bed=False, connect_bed=False,
            dial_limit_seconds=30, reissue_seconds=60,
        ),
        NurseCallAnsweredAtPhone(**NC, extension="2900"),
        TerminalOfflineAlert(terminal_id="tv-7", bed_label=None, ward_code=None, last_seen=AT),
        InventoryLoaded(beds=1, terminals=1),
        ClusterResync(reason="reconnected"),
    ],
    ids=lambda e: e.name,
)  # fmt: skip
def test_events_of_the_instance_itself_do_not_cross(event: DomainEvent) -> None:
    assert not crosses(event)
    with pytest.raises(ValueError, match="does not cross"):
        encode(event, "a")


def test_an_event_heard_from_another_instance_is_not_sent_again() -> None:
    remote = dataclasses.replace(SAMPLES[0], origin="b")
    with pytest.raises(ValueError, match="not sent again"):
        encode(remote, "a")


def test_a_stored_reference_and_an_unsent_notice_round_trip() -> None:
    assert decode(encode_ref("a", 5)) == StoredRef("a", 5)
    assert decode(encode_unsent("a")) == Unsent("a")
    with pytest.raises(NoticeInvalid):
        decode(json.dumps({"v": 1, "o": "a", "unsent": False}))


def _good() -> dict[str, object]:
    return json.loads(encode(SAMPLES[0], "host-a"))  # type: ignore[no-any-return]


def _with(change: dict[str, object], *, field: str | None = None) -> str:
    raw = _good()
    if field is None:
        raw.update(change)
    else:
        fields = raw["e"]
        assert isinstance(fields, dict)
        fields.update(change)
    return json.dumps(raw)


@pytest.mark.parametrize(
    ("payload", "error_id"),
    [
        ("", "fanout.not_json"),
        ("{", "fanout.not_json"),
        ("[" * 100_000, "fanout.not_json"),
        ("[1]", "fanout.not_object"),
        (_with({"v": 2}), "fanout.version"),
        (_with({"o": ""}), "fanout.origin"),
        (_with({"o": 5}), "fanout.origin"),
        (_with({"x": 1}), "fanout.shape"),
        (_with({"t": "CallRinging"}), "fanout.unknown_event"),
        (_with({"t": "NurseCallRingWanted"}), "fanout.unknown_event"),
        (_with({"t": ["StayAdmitted"]}), "fanout.unknown_event"),
        (_with({"e": []}), "fanout.fields"),
        (_with({"clinical_note": "x"}, field="e"), "fanout.fields"),
        (_with({"stay_id": "3"}, field="e"), "fanout.field_type"),
        (_with({"stay_id": True}, field="e"), "fanout.field_type"),
        (_with({"stay_id": 3.0}, field="e"), "fanout.field_type"),
        (_with({"did": 142}, field="e"), "fanout.field_type"),
        (_with({"at": "yesterday"}, field="e"), "fanout.field_type"),
        (_with({"at": "2026-03-29T00:59:59"}, field="e"), "fanout.field_type"),
        (_with({"bed": "C-101-A"}, field="e"), "fanout.field_type"),
        (_with({"bed": {"bed_id": 7}}, field="e"), "fanout.fields"),
        (json.dumps({"v": 1, "o": "a", "r": 0}), "fanout.ref"),
        (json.dumps({"v": 1, "o": "a", "r": "5"}), "fanout.ref"),
    ],
)
def test_a_bad_notification_is_refused_with_its_reason(payload: str, error_id: str) -> None:
    with pytest.raises(NoticeInvalid) as refused:
        decode(payload)
    assert refused.value.error_id == error_id


def test_a_missing_field_is_refused() -> None:
    raw = _good()
    fields = raw["e"]
    assert isinstance(fields, dict)
    del fields["visit_number"]
    with pytest.raises(NoticeInvalid, match="missing"):
        decode(json.dumps(raw))


@given(st.text(max_size=300))
def test_any_text_is_an_event_or_a_refusal(text: str) -> None:
    with contextlib.suppress(NoticeInvalid):
        decode(text)


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
        max_leaves=10,
    ),
    st.sampled_from(sorted({f.name for e in SAMPLES for f in dataclasses.fields(e)})),
)
def test_any_value_in_any_field_is_the_right_type_or_a_refusal(value: object, name: str) -> None:
    raw = _good()
    fields = raw["e"]
    assert isinstance(fields, dict)
    fields[name] = value
    try:
        notice = decode(json.dumps(raw))
    except NoticeInvalid:
        return
    assert isinstance(notice, Notice) and isinstance(notice.event, StayAdmitted)
    assert isinstance(notice.event.bed, BedRef) and isinstance(notice.event.stay_id, int)
