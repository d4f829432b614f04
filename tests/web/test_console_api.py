"""The console's API against the PBX simulator: answer, transfer, lamps, conflicts between two
operators, role boundaries, bad input."""

from __future__ import annotations

from typing import Any

from telephony.simulator.server import PbxSimulator
from tests.services import wait_until
from tests.web.conftest import Browser, WebLab


def sim(lab: WebLab) -> PbxSimulator:
    assert lab.pbx is not None
    return lab.pbx


async def board(b: Browser) -> dict[str, Any]:
    out: dict[str, Any] = await b.json("GET", "/api/v1/console/board")
    return out


async def queued_call(lab: WebLab, b: Browser) -> str:
    call_id = sim(lab).external_call(to="8000", caller="0612345678", name="Test Caller")

    async def waiting() -> bool:
        calls = (await board(b))["calls"]
        return any(c["call_id"] == call_id and c["phase"] == "queued" for c in calls)

    await wait_until(waiting, 5)
    return call_id


async def test_answer_then_blind_transfer_to_a_bed_changes_the_lamps(consolelab: WebLab) -> None:
    op = await consolelab.signed_in("opal", "9000")
    call_id = await queued_call(consolelab, op)
    answered = await op.json("POST", "/api/v1/calls/answer-next")
    assert answered == {"call_id": call_id}
    sim(consolelab).answer("9000")

    async def talking() -> bool:
        calls = {c["call_id"]: c for c in (await board(op))["calls"]}
        return calls.get(call_id, {}).get("phase") == "talking"

    await wait_until(talking, 5)
    assert (await board(op))["calls"][0]["handled_by"] == "9000"
    await op.json("POST", f"/api/v1/calls/{call_id}/transfer", {"to": "2001", "kind": "blind"})

    async def bed_rings() -> bool:
        return (await board(op))["phones"].get("2001") == "ringing"

    await wait_until(bed_rings, 5)
    lamps = await op.json("GET", "/api/v1/console/lamps")
    cardio = next(w for w in lamps["wards"] if w["code"] == "CARDIO")
    assert {"extension": "2001", "label": "CARDIO-101-A", "kind": "bed", "state": "ringing"} in (
        cardio["lamps"]
    )


async def test_two_operators_on_one_call_the_second_is_told_why(consolelab: WebLab) -> None:
    opal = await consolelab.signed_in("opal", "9000")
    oscar = await consolelab.signed_in("oscar", "9001")
    call_id = await queued_call(consolelab, opal)
    await opal.json("POST", f"/api/v1/calls/{call_id}/answer")
    r = await oscar.call("POST", f"/api/v1/calls/{call_id}/answer")
    body = await r.json()
    assert r.status == 409
    assert body["error"] == "pbx.call_conflict"
    assert body["message"] == "another operator is already handling this call"
    assert body["details"]["holder"] == "9000"
    r = await oscar.call("POST", f"/api/v1/calls/{call_id}/hangup")
    assert r.status == 409
    assert sim(consolelab).calls(), "the call goes on for the operator who won"


async def test_console_refusals_are_4xx(consolelab: WebLab) -> None:
    op = await consolelab.signed_in("opal", "9000")
    r = await op.call("POST", "/api/v1/calls/answer-next")
    assert (r.status, (await r.json())["error"]) == (409, "console.queue_empty")
    r = await op.call("POST", "/api/v1/calls/nope/hangup")
    assert (r.status, (await r.json())["error"]) == (404, "pbx.unknown_call")
    r = await op.call("POST", "/api/v1/calls/nope/transfer", {"to": "20'01; DROP"})
    assert r.status == 422
    r = await op.call("POST", "/api/v1/calls/dial", {"to": ""})
    assert r.status == 422
    no_phone = await consolelab.signed_in("oscar")
    r = await no_phone.call("POST", "/api/v1/calls/dial", {"to": "2001"})
    assert (r.status, (await r.json())["error"]) == (409, "console.no_extension")
    await no_phone.json("PUT", "/api/v1/session/extension", {"extension": "9001"})
    assert (await board(no_phone))["my_extension"] == "9001"


async def test_role_boundaries_of_the_console(consolelab: WebLab) -> None:
    nurse = await consolelab.signed_in("nina")
    admin = await consolelab.signed_in("ada")
    for b in (nurse, admin):
        r = await b.call("GET", "/api/v1/console/board")
        assert (r.status, (await r.json())["error"]) == (403, "auth.role")
        r = await b.call("POST", "/api/v1/calls/answer-next")
        assert r.status == 403
        r = await b.call("POST", "/api/v1/directory/search", {"q": "Dupont"})
        assert r.status == 403
    r = await nurse.call("GET", "/console")
    assert r.status == 403
    anonymous = consolelab.browser()
    await anonymous.refresh()
    r = await anonymous.call("POST", "/api/v1/calls/answer-next")
    assert r.status == 401
    r = await anonymous.call("GET", "/console")
    assert (r.status, r.headers["Location"]) == (303, "/signin")


async def test_console_page_renders_every_lamp_in_its_state(consolelab: WebLab) -> None:
    op = await consolelab.signed_in("opal", "9000")
    r = await op.call("GET", "/console")
    html = await r.text()
    assert r.status == 200
    assert 'data-ext="2001" data-state="idle"' in html
    assert 'data-ext="2005" data-state="idle"' in html
    assert 'data-ext="2020" data-state="unavailable"' in html  # not on the simulated PBX
    assert "/static/js/console.js" in html


async def test_call_history_with_filters(consolelab: WebLab) -> None:
    op = await consolelab.signed_in("opal", "9000")
    call_id = await queued_call(consolelab, op)
    sim(consolelab).hangup(call_id)

    async def recorded() -> bool:
        out = await op.json("GET", "/api/v1/calls/history")
        return any(r["call_id"] == call_id for r in out["records"])

    await wait_until(recorded, 5)
    mine = await op.json("GET", "/api/v1/calls/history?number=0612345678")
    assert [r["call_id"] for r in mine["records"]] == [call_id]
    other = await op.json("GET", "/api/v1/calls/history?number=0799999999")
    assert other["records"] == []
    record = mine["records"][0]
    by_outcome = await op.json("GET", f"/api/v1/calls/history?disposition={record['disposition']}")
    assert call_id in [r["call_id"] for r in by_outcome["records"]]
    later = await op.json("GET", "/api/v1/calls/history?since=2999-01-01T00:00:00Z")
    assert later["records"] == []
    r = await op.call("GET", "/api/v1/calls/history?since=yesterday")
    assert r.status == 422


async def talking_call(lab: WebLab, op: Browser) -> str:
    call_id = await queued_call(lab, op)
    await op.json("POST", f"/api/v1/calls/{call_id}/answer")
    sim(lab).answer("9000")

    async def talking() -> bool:
        calls = {c["call_id"]: c for c in (await board(op))["calls"]}
        return calls.get(call_id, {}).get("phase") == "talking"

    await wait_until(talking, 5)
    return call_id


async def test_park_then_pick_up_on_my_phone(consolelab: WebLab) -> None:
    op = await consolelab.signed_in("opal", "9000")
    call_id = await talking_call(consolelab, op)
    parked = await op.json("POST", f"/api/v1/calls/{call_id}/park")
    assert parked["call_id"] == call_id and parked["space"].startswith("7")
    state = await board(op)
    assert state["parked"] == {parked["space"]: call_id}
    r = await op.call("POST", f"/api/v1/parking/{parked['space']}/pickup")
    assert r.status == 204
    r = await op.call("POST", "/api/v1/parking/799/pickup")
    assert (r.status, (await r.json())["error"]) == (404, "pbx.unknown_call")


async def test_attended_transfer_and_hang_up(consolelab: WebLab) -> None:
    op = await consolelab.signed_in("opal", "9000")
    call_id = await talking_call(consolelab, op)
    await op.json("POST", f"/api/v1/calls/{call_id}/transfer", {"to": "2002", "kind": "attended"})

    async def consulting() -> bool:
        return (await board(op))["phones"].get("2002") == "ringing"

    await wait_until(consulting, 5)
    r = await op.call("POST", f"/api/v1/calls/{call_id}/hangup")
    assert r.status == 204

    async def gone() -> bool:
        return all(c["call_id"] != call_id for c in (await board(op))["calls"])

    await wait_until(gone, 5)


async def test_dial_a_bed_rings_my_phone_first(consolelab: WebLab) -> None:
    op = await consolelab.signed_in("opal", "9000")
    out = await op.json("POST", "/api/v1/calls/dial", {"to": "2003"})
    assert out["call_id"]

    async def my_phone_rings() -> bool:
        return (await board(op))["phones"].get("9000") == "ringing"

    await wait_until(my_phone_rings, 5)
