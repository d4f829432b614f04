"""The terminal contract: topics and payload parsers, pure, without sockets."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bedside import contract
from bedside.errors import (
    BedsideError,
    PayloadInvalid,
    PayloadTooLarge,
    TopicInvalid,
    UnsupportedVersion,
)
from bedside.schemas import DEFAULT_DIR, render
from bedside.topics import Topics
from wardline.errors import WardlineError


def test_topics_round_trip() -> None:
    topics = Topics()
    assert topics.context("T-101") == "wardline/v1/terminal/T-101/context"
    ref = topics.parse("wardline/v1/terminal/T-101/event")
    assert (ref.terminal_id, ref.channel) == ("T-101", "event")
    assert topics.all_from_terminals("status") == "wardline/v1/terminal/+/status"


@pytest.mark.parametrize(
    "topic",
    [
        "wardline/v1/terminal/T-1/other",
        "wardline/v2/terminal/T-1/event",
        "wardline/v1/terminal/T-1/event/extra",
        "wardline/v1/terminal//event",
        "wardline/v1/terminal/+/event",
    ],
)
def test_topics_refused(topic: str) -> None:
    with pytest.raises(TopicInvalid):
        Topics().parse(topic)


@pytest.mark.parametrize("tid", ["a/b", "#", "+", "", "x" * 65, "é"])
def test_terminal_ids_refused(tid: str) -> None:
    with pytest.raises(TopicInvalid):
        Topics().event(tid)


def test_events_parse_by_type() -> None:
    press = contract.parse_event(
        b'{"v":1,"type":"nurse_call","source":"pull_cord","press_id":"p1"}'
    )
    assert isinstance(press, contract.NurseCallPressed) and press.source == "pull_cord"
    tap = contract.parse_event(b'{"v":1,"type":"badge_tap","badge_id":"04AB12CD"}')
    assert isinstance(tap, contract.BadgeTap) and tap.badge_id == "04AB12CD"
    menu = contract.parse_event(b'{"v":1,"type":"menu","action":"tv_on"}')
    assert isinstance(menu, contract.MenuAction) and menu.action == "tv_on"


@pytest.mark.parametrize(
    ("payload", "error_id"),
    [
        (b"", "mqtt.payload_not_json"),
        (b"\xff\xfe", "mqtt.payload_not_json"),
        (b"{not json", "mqtt.payload_not_json"),
        (b"[1,2]", "mqtt.payload_not_object"),
        (b'{"type":"nurse_call","source":"button","press_id":"a"}', "mqtt.payload_version"),
        (b'{"v":2,"type":"nurse_call","source":"button","press_id":"a"}', "mqtt.payload_version"),
        (b'{"v":1,"type":"self_destruct"}', "mqtt.payload_schema"),
        (b'{"v":1,"type":"nurse_call","source":"foot","press_id":"a"}', "mqtt.payload_schema"),
        (b'{"v":1,"type":"nurse_call","source":"button"}', "mqtt.payload_schema"),
        (
            b'{"v":1,"type":"nurse_call","source":"button","press_id":"a","x":1}',
            "mqtt.payload_schema",
        ),
        (b'{"v":1,"type":"badge_tap","badge_id":"a b"}', "mqtt.payload_schema"),
    ],
)
def test_bad_events_refused(payload: bytes, error_id: str) -> None:
    with pytest.raises(PayloadInvalid) as info:
        contract.parse_event(payload)
    assert info.value.error_id == error_id
    assert isinstance(info.value, BedsideError) and isinstance(info.value, WardlineError)


def test_schema_error_names_fields_never_values() -> None:
    secret = "SECRET-BADGE-VALUE with space"
    payload = json.dumps({"v": 1, "type": "badge_tap", "badge_id": secret}).encode()
    with pytest.raises(PayloadInvalid) as info:
        contract.parse_event(payload)
    assert "badge_tap.badge_id" in info.value.details["fields"]
    assert secret not in repr(info.value.as_dict())
    assert info.value.__cause__ is None


def test_oversized_payload_refused() -> None:
    big = json.dumps({"v": 1, "type": "menu", "action": "tv_on", "value": "x" * 20000})
    with pytest.raises(PayloadTooLarge):
        contract.parse_event(big.encode())


def test_status_and_version() -> None:
    status = contract.parse_status(b'{"v":1,"state":"online","firmware":"2.4.1"}')
    assert status.state == "online" and status.firmware == "2.4.1"
    with pytest.raises(UnsupportedVersion):
        contract.parse_status(b'{"v":"1","state":"online"}')
    with pytest.raises(PayloadInvalid):
        contract.parse_status(b'{"v":1,"state":"asleep"}')


def test_context_round_trip_and_erasure() -> None:
    ctx = contract.PatientContext(
        greeting_name="Camille",
        language="fr",
        room="101",
        bed_label="W1-101-A",
        phone=contract.PhoneLine(number="0140000101", state="active"),
        services=contract.Services(tv=True, phone=True, meals=True),
        meal_ordering="open",
        on_leave=False,
        updated_at=datetime(2026, 1, 2, tzinfo=UTC),
    )
    assert contract.parse_context(ctx.to_bytes()) == ctx
    assert contract.parse_context(b"") is None
    fields = set(contract.PatientContext.model_fields)
    assert not fields & {"birth_date", "diagnosis", "allergies", "ins", "ipp", "family_name"}


def test_notice_round_trip() -> None:
    notice = contract.NurseCallNotice(call_id=3, bed_label="B1", state="acknowledged")
    assert contract.parse_notice(notice.to_bytes()) == notice
    err = contract.ErrorNotice(error_id="mqtt.payload_schema", message="refused")
    assert contract.parse_notice(err.to_bytes()) == err


def test_committed_schemas_are_current() -> None:
    rendered = render()
    committed = {p.name: p.read_text(encoding="utf-8") for p in DEFAULT_DIR.glob("*.json")}
    assert committed == rendered, "run `python -m bedside.schemas` and commit docs/mqtt-schemas"


@settings(deadline=None)  # a loaded CI machine must not make a parser test flaky
@given(st.binary(max_size=300))
def test_any_bytes_give_a_model_or_a_payload_error(payload: bytes) -> None:
    for parse in (contract.parse_event, contract.parse_status, contract.parse_notice):
        with contextlib.suppress(PayloadInvalid):
            parse(payload)


@settings(deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["v", "type", "source", "press_id", "badge_id", "action", "state"]),
        st.one_of(st.none(), st.integers(), st.text(max_size=20), st.booleans()),
    )
)
def test_any_json_object_gives_a_model_or_a_payload_error(data: dict[str, object]) -> None:
    try:
        event = contract.parse_event(json.dumps(data).encode())
    except PayloadInvalid:
        return
    assert event.v == 1
