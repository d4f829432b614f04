"""The live feed over a real WebSocket: session auth, snapshot first, role-filtered topics,
the nurse's ward only, no patient data in stay events, cross-site handshakes refused."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp

from kiosk_ui.state import WEB
from tests.web.conftest import Browser, WebLab
from wardline import appkeys as k
from wardline.domain.call_events import PhoneStateChanged
from wardline.domain.commands import SYSTEM_ADT, Admit, BedLocation, PatientData
from wardline.domain.nurse_call_events import NurseCallRaised


async def connect(b: Browser, topics: str = "") -> aiohttp.ClientWebSocketResponse:
    query = f"?topics={topics}" if topics else ""
    return await b.http.ws_connect(b.base.replace("http", "ws") + "/ws" + query)


async def receive(ws: aiohttp.ClientWebSocketResponse, wait: float = 3) -> dict[str, Any]:
    msg = await ws.receive(timeout=wait)
    assert msg.type == aiohttp.WSMsgType.TEXT, msg
    data: dict[str, Any] = json.loads(msg.data)
    return data


async def nothing_more(ws: aiohttp.ClientWebSocketResponse) -> None:
    try:
        extra = await ws.receive(timeout=0.3)
    except TimeoutError:
        return
    raise AssertionError(f"unexpected message {extra.data!r}")


def raised(ward: str, call_id: int) -> NurseCallRaised:
    return NurseCallRaised(
        call_id=call_id,
        bed_label=f"{ward}-101-A",
        ward_code=ward,
        nurse_station_extension=None,
        source="button",
    )


async def test_snapshot_first_then_the_events_each_role_may_see(weblab: WebLab) -> None:
    operator = await weblab.signed_in("opal", "9000")
    nurse = await weblab.signed_in("nina")
    ws_op, ws_nurse = await connect(operator), await connect(nurse)
    snap_op, snap_nurse = await receive(ws_op), await receive(ws_nurse)
    assert snap_op["topic"] == "snapshot"
    assert {"calls", "phones", "nurse_calls", "stays"} <= set(snap_op["topics"])
    assert "terminals" not in snap_op["topics"]
    assert "calls" not in snap_nurse["topics"] and "phones" not in snap_nurse["topics"]
    bus = weblab.app[k.BUS]
    bus.publish(PhoneStateChanged(extension="2001", state="ringing", previous="idle"))
    bus.publish(raised("PNEUMO", 7))
    bus.publish(raised("CARDIO", 8))
    first = await receive(ws_op)
    assert (first["topic"], first["data"]["extension"], first["data"]["state"]) == (
        "phones",
        "2001",
        "ringing",
    )
    assert [(await receive(ws_op))["data"]["call_id"] for _ in range(2)] == [7, 8]
    only = await receive(ws_nurse)
    assert (only["topic"], only["data"]["call_id"]) == ("nurse_calls", 8)
    await nothing_more(ws_nurse)
    await ws_op.close()
    await ws_nurse.close()


async def test_stay_events_carry_beds_not_patients(weblab: WebLab) -> None:
    operator = await weblab.signed_in("opal", "9000")
    ws = await connect(operator, "stays")
    assert (await receive(ws))["topics"] == ["stays"]
    await weblab.app[k.STAYS].admit(
        Admit(
            visit_number="V-LIVE-1",
            patient=PatientData(ipp="900001", family_name="Zeitlos", given_name="Ida"),
            location=BedLocation(label="CARDIO-101-A"),
        ),
        SYSTEM_ADT,
    )
    event = await receive(ws)
    assert event == {
        "topic": "stays",
        "type": "StayAdmitted",
        "data": {"occupied": {"bed": "CARDIO-101-A", "ward_code": "CARDIO"}},
    }
    assert "Zeitlos" not in json.dumps(event) and "V-LIVE-1" not in json.dumps(event)


async def test_the_socket_needs_a_session_and_the_same_origin(weblab: WebLab) -> None:
    anonymous = weblab.browser()
    try:
        await connect(anonymous)
        raise AssertionError("connected without a session")
    except aiohttp.WSServerHandshakeError as exc:
        assert exc.status == 401
    operator = await weblab.signed_in("opal", "9000")
    try:
        await operator.http.ws_connect(
            operator.base.replace("http", "ws") + "/ws", origin="http://evil.example"
        )
        raise AssertionError("connected from another site")
    except aiohttp.WSServerHandshakeError as exc:
        assert exc.status == 403


async def test_snapshot_carries_the_phones_of_the_pbx(consolelab: WebLab) -> None:
    assert consolelab.pbx is not None
    operator = await consolelab.signed_in("opal", "9000")
    ws = await connect(operator, "phones,calls")
    snap = await receive(ws)
    assert snap["data"]["phones"]["2001"] == "idle"
    assert snap["data"]["calls"]["calls"] == []
    await ws.close()
    call_id = consolelab.pbx.external_call(to="8000", caller="0611111111")
    await asyncio.sleep(0.3)  # changes while this console is away
    again = await connect(operator, "phones,calls")
    snap = await receive(again)
    assert snap["data"]["phones"]["9000"] == "ringing"
    assert [c["call_id"] for c in snap["data"]["calls"]["calls"]] == [call_id]
    assert snap["data"]["calls"]["queues"] == {"switchboard": [call_id]}
    await again.close()


async def test_a_console_that_cannot_keep_up_is_closed_to_reconnect(weblab: WebLab) -> None:
    feed = weblab.app[WEB].feed
    feed.queue_size = 20
    operator = await weblab.signed_in("opal", "9000")
    ws = await connect(operator, "phones")
    await receive(ws)
    bus = weblab.app[k.BUS]
    for i in range(60_000):  # far more than the socket buffers hold while nobody reads
        bus.publish(PhoneStateChanged(extension=str(i), state="idle", previous=None))
    await bus.drain()
    assert feed.slow_closed == 1
    while True:
        msg = await ws.receive(timeout=10)
        if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
            break
    assert ws.close_code == 4000
    again = await connect(operator, "phones")
    assert (await receive(again))["topic"] == "snapshot"
    await again.close()
