"""When is an action answered? List, async and plain answers taken from the captures."""

from __future__ import annotations

from telephony.ami.frames import AmiMessage, parse_stream
from telephony.ami.protocol import PbxAction
from tests.telephony.replay import capture


def answers_to(name: str, action_id: str) -> list[AmiMessage]:
    return [m for m in parse_stream(capture(name)) if m.action_id == action_id]


def feed(action: PbxAction, frames: list[AmiMessage]) -> int:
    """Feed answers until the action completes; return how many it took."""
    for taken, frame in enumerate(frames, start=1):
        if action.add_message(frame):
            return taken
    return -1


async def test_status_list_completes_on_status_complete_with_actionid_last() -> None:
    frames = answers_to("02_originate_local.ami", "status-4")
    action = PbxAction({"Action": "Status", "ActionID": "status-4"})
    assert feed(action, frames) == len(frames)
    result = action.future.result()
    assert result[-1].name == "StatusComplete"
    assert result[-1].get("Items") == result[-1].get("ListItems") == "2"
    assert [m.name for m in result[1:-1]] == ["Status", "Status"]


async def test_async_originate_waits_for_its_originate_response() -> None:
    frames = answers_to("02_originate_local.ami", "originate-2")
    action = PbxAction({"Action": "Originate", "ActionID": "originate-2", "Async": "true"})
    assert feed(action, frames) == 2
    assert action.future.result()[1].name == "OriginateResponse"


async def test_sync_originate_and_atxfer_answers_do_not_raise() -> None:
    sync = answers_to("02_originate_local.ami", "originate-6")
    action = PbxAction({"Action": "Originate", "ActionID": "originate-6"})  # no Async header
    assert feed(action, sync) == 1  # panoramisk 1.4: KeyError('async') here
    atxfer = answers_to("05_transfer_or_redirect.ami", "atxfer-7")
    action = PbxAction({"Action": "Atxfer", "ActionID": "atxfer-7"})
    assert feed(action, atxfer) == 1
    assert action.future.result().get("Message") == "Atxfer successfully queued"


async def test_dbget_list_and_error_answers() -> None:
    found = answers_to("09_astdb_bed_check.ami", "dbget-3")
    action = PbxAction({"Action": "DBGet", "ActionID": "dbget-3"})
    assert feed(action, found) == 3
    assert action.future.result()[1].get("Val") == "0"
    missing = answers_to("09_astdb_bed_check.ami", "dbget-10")
    action = PbxAction({"Action": "DBGet", "ActionID": "dbget-10"})
    assert feed(action, missing) == 1
    assert action.future.result().name == "Error"


def test_events_with_a_response_header_stay_events() -> None:
    frames = parse_stream(capture("04_registration_contact_status.ami"))
    failed = next(m for m in frames if m.name == "ChallengeResponseFailed")
    assert failed.kind == "event" and "Response" in failed
