"""The pure AMI decoder over the real Asterisk 22 captures and over bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from telephony.ami.frames import FrameDecoder, parse_stream

CAPTURES = Path(__file__).parent / "captures"
ALL = sorted(CAPTURES.glob("*.ami"))


def capture(name: str) -> bytes:
    return (CAPTURES / name).read_bytes()


def feed_in_pieces(data: bytes, cuts: list[int]) -> tuple[list[object], dict[str, int], int]:
    decoder = FrameDecoder()
    out = []
    last = 0
    for cut in sorted(set(cuts)):
        out += decoder.feed(data[last:cut])
        last = cut
    out += decoder.feed(data[last:])
    return out, dict(decoder.errors), decoder.pending()


def test_banner_without_blank_line_then_login_response() -> None:
    messages = parse_stream(capture("01_login_ping.ami"))
    assert messages[0].kind == "banner"
    assert messages[0].name == "Asterisk Call Manager/11.0.0"
    assert messages[1].kind == "response"
    assert messages[1].action_id == "login-1"
    assert messages[2].name == "FullyBooted"


def test_event_with_response_header_is_an_event_and_keeps_prefixed_variables() -> None:
    messages = parse_stream(capture("02_originate_local.ami"))
    originate = [m for m in messages if m.name == "OriginateResponse"]
    assert originate and all(m.kind == "event" for m in originate)
    first = originate[0]
    assert first.get("Response") == "Success"
    assert first.variables() == {"WARD": "ward-a", "QUEUENAME": ""}


def test_park_bare_lf_keeps_next_event() -> None:
    messages = parse_stream(capture("07_park.ami"))
    names = [m.name for m in messages]
    park = next(i for i, m in enumerate(messages) if m.action_id == "park-4")
    assert messages[park].get("Message") == "Park successful"
    assert names[park + 1] == "BridgeCreate"


def test_repeated_keys_keep_order() -> None:
    messages = parse_stream(capture("01_login_ping.ami"))
    endpoints = next(m for m in messages if m.action_id == "command-7")
    output = endpoints.get_all("Output")
    assert len(output) > 5
    assert output[0] == ""
    assert output[1].startswith(" Endpoint:")
    dial = next(m for m in parse_stream(capture("03_bed_to_bed_call.ami")) if m.name == "DialBegin")
    assert dial.variables("Dest") == {"WARD": "ward-a", "QUEUENAME": ""}
    assert dial.get_all("ChanVariable") == ["WARD=ward-a", "QUEUENAME="]


def test_values_with_colon_empty_and_utf8() -> None:
    messages = parse_stream(capture("01_login_ping.ami"))
    bad = next(m for m in messages if m.name == "RequestBadFormat")
    assert bad.get("RequestType").startswith("Action: ") or bad.get("RequestType")
    queue = parse_stream(capture("06_queue_call.ami"))
    added = next(m for m in queue if m.name == "QueueMemberAdded")
    assert added.get("MemberName") == "Nurse Station Süd"
    assert "accountcode" in next(m for m in queue if m.name == "Newchannel")


@pytest.mark.parametrize("path", ALL, ids=[p.stem for p in ALL])
def test_every_capture_decodes_cleanly(path: Path) -> None:
    decoder = FrameDecoder()
    messages = decoder.feed(path.read_bytes())
    assert not decoder.errors
    assert decoder.pending() == 0
    blocks = path.read_bytes().count(b"\n\r\n")
    assert len(messages) == blocks + 1  # every block plus the banner


@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_any_chunking_gives_identical_messages(data: st.DataObject) -> None:
    for path in ALL:
        raw = path.read_bytes()
        cuts = data.draw(st.lists(st.integers(0, len(raw)), max_size=40), label=path.stem)
        whole = feed_in_pieces(raw, [])
        assert feed_in_pieces(raw, cuts) == whole


def test_utf8_cut_inside_a_character() -> None:
    raw = "Event: Newchannel\r\nCallerIDName: Hélène Dupré\r\n\r\n".encode()
    cut = raw.index("é".encode()) + 1
    out, errors, _ = feed_in_pieces(raw, [cut])
    assert out[0].get("CallerIDName") == "Hélène Dupré"  # type: ignore[attr-defined]
    assert not errors


def test_byte_by_byte() -> None:
    raw = capture("07_park.ami")
    assert feed_in_pieces(raw, list(range(0, 4000))) == feed_in_pieces(raw, [])


def test_garbage_truncated_and_oversize_are_counted() -> None:
    decoder = FrameDecoder(max_message=64 * 1024)
    junk = bytes(range(256)) * 3 + b"\r\n\r\n"
    big = b"Event: Huge\r\nX: " + b"a" * (1024 * 1024) + b"\r\n\r\n"
    good = b"Event: Ok\r\nA: 1\r\n\r\n"
    out = []
    for i in range(0, len(junk + big + good), 7000):
        out += decoder.feed((junk + big + good)[i : i + 7000])
    assert [m.name for m in out] == ["Ok"]
    assert decoder.errors["oversize"] == 1
    assert decoder.errors["garbage"] + decoder.errors["invalid_utf8"] >= 1
    out = decoder.feed(b"Event: Trunc\r\nA: 1\r\n")
    assert out == [] and decoder.pending() > 0
    assert [m.name for m in decoder.feed(b"\r\n")] == ["Trunc"]


def test_oversize_same_whether_whole_or_split() -> None:
    big = b"Event: Huge\r\nX: " + b"a" * 300_000 + b"\r\n\r\nEvent: After\r\n\r\n"
    whole = feed_in_pieces(big, [])
    assert feed_in_pieces(big, list(range(0, len(big), 1000))) == whole
    assert [m.name for m in whole[0]] == ["After"]  # type: ignore[attr-defined]


def test_block_without_kind_is_dropped() -> None:
    decoder = FrameDecoder()
    assert decoder.feed(b"Foo: bar\r\n\r\nEvent: X\r\n\r\n")[0].name == "X"
    assert decoder.errors["unclassified"] == 1


def test_malformed_line_inside_an_event_is_counted_when_read() -> None:
    decoder = FrameDecoder()
    [message] = decoder.feed(b"Event: X\r\nno colon here\r\nA: 1\r\n\r\n")
    assert message.name == "X"
    assert message.get("A") == "1"  # the headers are parsed now
    assert decoder.errors["malformed_line"] == 1
    assert message.headers == [("Event", "X"), ("A", "1")]
