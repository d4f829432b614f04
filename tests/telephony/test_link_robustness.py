"""The AMI link under failure: unreachable PBX, lost connection, timeouts, bad bytes,
failing handlers, and the panoramisk traps (re-send after reconnect, sync Originate)."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field

import pytest
from structlog.testing import capture_logs

from telephony.ami.frames import AmiMessage
from telephony.ami.link import AmiLink, Backoff
from telephony.calls.session import PbxSession
from telephony.calls.state import CallState
from telephony.errors import PbxActionFailed, PbxTimeout, PbxUnreachable
from tests.services import wait_until
from tests.telephony.conftest import Lab, make_link
from tests.telephony.raw_pbx import RawPbx

PAYLOAD = "Hélène-Dupré-0612345678"


async def up(raw: RawPbx) -> AmiLink:
    session = PbxSession(make_link(raw.port))
    await session.start()
    await session.link.wait_synced(5)
    return session.link


async def test_action_without_pbx_fails_at_once_and_is_never_sent_later() -> None:
    raw = await RawPbx().start()
    link = await up(raw)
    try:
        await raw.close()
        await wait_until(lambda: link.state != "up")
        with pytest.raises(PbxUnreachable) as info:
            await link.send({"Action": "DBPut", "Family": "bed/2001", "Key": "active", "Val": "1"})
        assert info.value.error_id == "pbx.unreachable"
    finally:
        await link.stop()
    assert all("dbput" not in names for names in raw.received)


async def test_pending_action_fails_when_the_connection_drops_and_is_not_resent() -> None:
    raw = await RawPbx(drop_on={"dbdel"}).start()
    link = await up(raw)
    try:
        with pytest.raises(PbxUnreachable):
            await link.send({"Action": "DBDel", "Family": "bed/2001", "Key": "active"})
        raw.drop_on.clear()
        await wait_until(lambda: link.state == "up" and link.connections == 2)
        await link.send({"Action": "Ping"})
        assert "dbdel" in raw.received[0]
        assert "dbdel" not in raw.received[1]  # panoramisk would have re-sent it here
    finally:
        await link.stop()
        await raw.close()


async def test_timeout_then_late_answer_is_counted() -> None:
    raw = await RawPbx(silent={"dbget"}).start()
    link = await up(raw)
    try:
        with pytest.raises(PbxTimeout) as info:
            await link.send(
                {"Action": "DBGet", "Family": "f", "Key": "k", "ActionID": "late-1"}, within=0.2
            )
        assert info.value.error_id == "pbx.timeout"
        await raw.send_raw(b"Response: Success\r\nActionID: late-1\r\nMessage: x\r\n\r\n")
        await link.send({"Action": "Ping"})
        assert link._protocol is not None and link._protocol.stats["late_responses"] == 1
        assert link.state == "up"
    finally:
        await link.stop()
        await raw.close()


async def test_synchronous_originate_reply_does_not_kill_the_link() -> None:
    raw = await RawPbx().start()
    link = await up(raw)
    try:
        answers = await link.send(
            {"Action": "Originate", "Channel": "PJSIP/9000", "Exten": "2001", "Context": "hospital"}
        )
        assert answers[0].get("Message") == "Originate successfully queued"
        await link.send({"Action": "Ping"})
        assert link.connections == 1
    finally:
        await link.stop()
        await raw.close()


async def test_header_injection_is_refused() -> None:
    raw = await RawPbx().start()
    link = await up(raw)
    try:
        with pytest.raises(PbxActionFailed):
            await link.send(
                {"Action": "DBPut", "Family": "x\r\nAction: Hangup", "Key": "k", "Val": "v"}
            )
        assert "hangup" not in raw.received[0]
    finally:
        await link.stop()
        await raw.close()


async def test_bad_bytes_are_counted_logged_without_payload_and_harmless() -> None:
    raw = await RawPbx().start()
    events: list[object] = []
    state = CallState(events.append)
    link = await up(raw)
    link.subscribe(state.on_event)
    seen: list[str] = []
    link.subscribe(lambda f: seen.append(f.name))
    try:
        with capture_logs() as logs:
            await raw.send_raw(bytes(range(256)) + f"{PAYLOAD}\r\n\r\n".encode())
            await raw.send_raw(b"Event: Huge\r\nX: " + PAYLOAD.encode() * 50_000 + b"\r\n\r\n")
            await raw.send_raw(f"Event: WardlineMystery\r\nPayload: {PAYLOAD}\r\n\r\n".encode())
            await raw.send_raw(
                f"Response: Success\r\nActionID: nobody-7\r\nMessage: {PAYLOAD}\r\n\r\n".encode()
            )
            await link.send({"Action": "Ping"})
            await raw.send_raw(b"Event: Newchannel\r\nChannel: PJSIP/2001-1\r\nUniq")  # cut
            assert link._protocol is not None
            await wait_until(
                lambda: link._protocol is not None and link._protocol.decoder.pending() > 0
            )
        assert link.state == "up" and link.connections == 1
        protocol = link._protocol
        assert protocol is not None
        assert protocol.decoder.errors["oversize"] == 1
        assert protocol.decoder.errors["garbage"] + protocol.decoder.errors["invalid_utf8"] >= 1
        assert protocol.stats["unmatched_responses"] == 1
        counters = link.readiness()["counters"]
        assert counters["decode_oversize"] == 1 and counters["unmatched_responses"] == 1
        assert seen == ["WardlineMystery"] and state.ignored == 1 and not events
        assert protocol.decoder.pending() > 0  # the truncated message waits, harmless
        assert PAYLOAD not in repr(logs)
        assert any(entry["event"] == "ami.unmatched_response" for entry in logs)
    finally:
        await link.stop()
        await raw.close()


async def test_failing_handler_never_drops_the_connection(lab: Lab) -> None:
    calls: list[str] = []

    def broken(frame: AmiMessage) -> None:
        calls.append(frame.name)
        raise RuntimeError("boom")

    lab.session.link.subscribe(broken)
    lab.sim.dial("2001", "2002")
    await wait_until(lambda: lab.session.state.calls)
    lab.sim.answer("2002")
    await wait_until(lambda: any(c.answered_at for c in lab.session.state.calls.values()))
    assert calls and lab.session.link.stats["handler_failures"] == len(calls)
    assert lab.session.link.connections == 1 and lab.session.link.state == "up"


async def test_astdb_put_get_delete_tree(lab: Lab) -> None:
    db = lab.session.actions
    await db.put("bed/2005", "active", "1")
    await db.put("bed/2005", "barring", "local")
    assert lab.sim.astdb["bed/2005/active"] == "1"
    assert await db.get("bed/2005", "active") == "1"
    assert await db.get("bed/2005", "nothing") is None
    assert await db.tree("bed/2005") == {"active": "1", "barring": "local"}
    assert await db.delete("bed/2005", "active") is True
    assert await db.delete("bed/2005", "active") is False
    assert "bed/2005/active" not in lab.sim.astdb


async def test_unknown_action_and_channel_are_typed_errors(lab: Lab) -> None:
    with pytest.raises(PbxActionFailed) as info:
        await lab.session.link.send({"Action": "FooBarNoSuchAction"})
    assert info.value.details["reason"] == "Invalid/unknown command"
    with pytest.raises(PbxActionFailed):
        await lab.session.link.send({"Action": "Hangup", "Channel": "PJSIP/2001-ffff"})
    assert lab.session.link.state == "up"


async def test_refused_login_and_unreachable_are_typed() -> None:
    from telephony.errors import PbxLoginRefused
    from telephony.simulator.server import PbxSimulator

    sim = await PbxSimulator().start()
    port = sim.port
    link = make_link(port, secret="wrong")
    try:
        await link.start()
        with pytest.raises(PbxLoginRefused):
            await link.wait_synced(3)
    finally:
        await link.stop()
        await sim.stop()
    closed = make_link(port)
    try:
        await closed.start()
        with pytest.raises(PbxUnreachable):
            await closed.wait_synced(3)
    finally:
        await closed.stop()
    await asyncio.sleep(0)


async def test_a_crashing_resync_reconnects_instead_of_dying() -> None:
    raw = await RawPbx().start()
    link = make_link(raw.port)
    runs: list[int] = []

    async def resync() -> None:
        runs.append(1)
        if len(runs) == 1:
            raise RuntimeError("bug in the resync")

    link.resync = resync
    try:
        await link.start()
        await wait_until(lambda: link.synced, timeout=5)
        assert link.connections == 2 and len(runs) == 2
        assert link.counters()["resync_crashes"] == 1
        assert link.readiness()["state"] == "up"
    finally:
        await link.stop()
        await raw.close()
    assert link.readiness()["state"] == "degraded"


@dataclass(frozen=True)
class CountedBackoff(Backoff):
    """The link's backoff, recording the attempt number of every wait it is asked for."""

    asked: list[int] = field(default_factory=list, compare=False, hash=False)

    def delay(self, attempt: int, rng: random.Random) -> float:
        self.asked.append(attempt)
        return 0.01


async def test_a_pbx_that_accepts_the_login_but_fails_the_resync_is_retried_ever_slower() -> None:
    """Issue 21: with no phone registered, a list answered with an error failed the resync and
    the link logged in again twice a second: the backoff grows until a session is usable."""
    raw = await RawPbx(drop_on={"coreshowchannels"}).start()
    backoff = CountedBackoff(initial=0.01, maximum=0.01)
    link = AmiLink(
        host="127.0.0.1", port=raw.port, username="wardline", secret="x", backoff=backoff
    )
    session = PbxSession(link)
    try:
        await session.start()
        await wait_until(lambda: len(backoff.asked) >= 4, timeout=10)
        assert backoff.asked[:4] == [0, 1, 2, 3]
        raw.drop_on.clear()  # the PBX answers again: once synced, the count starts over
        await link.wait_synced(10)
        before = len(backoff.asked)
        link.drop()
        await wait_until(lambda: len(backoff.asked) > before, timeout=10)
        assert backoff.asked[before] == 0
    finally:
        await session.stop()
        await raw.close()
