"""A noisy terminal only hurts itself: while terminal A floods junk (deep JSON, oversized, not
JSON, wrong schema, then far more than its rate), a nurse call from terminal B is raised; A's
junk is counted by reason and dropped, logged and answered once per interval, never with a
traceback. On a real Mosquitto started from the generated configuration."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
import structlog

from bedside.contract import MAX_PAYLOAD_BYTES, parse_event, parse_notice
from bedside.errors import PayloadInvalid
from bedside.topics import Topics
from tests.bedside.conftest import PrivateBroker
from tests.bedside.harness import running_service, terminal
from tests.bedside.ward import seed_ward
from tests.services import wait_until
from wardline.db.engine import Database
from wardline.domain.nurse_call_events import NurseCallRaised

JUNK = 3000
DEEP = b"[" * 8000 + b"]" * 8000  # under 16 KiB: json.loads raised RecursionError on it


def junk(n: int) -> bytes:
    kinds = [
        DEEP,
        b"{" * 3000 + b"}" * 3000,
        b"x" * (MAX_PAYLOAD_BYTES + 1),
        b"\x00not json",
        b'{"v":1,"type":"nurse_call","source":"elbow","press_id":"x"}',
        b'{"v":2,"type":"menu","action":"tv_on"}',
    ]
    return kinds[n % len(kinds)]


def test_deep_json_is_refused_without_recursion() -> None:
    for payload, error in [
        (DEEP, "mqtt.payload_too_deep"),
        (b"{\"a\":" * 2000 + b"1" + b"}" * 2000, "mqtt.payload_too_deep"),
        (b"x" * (MAX_PAYLOAD_BYTES + 1), "mqtt.payload_too_large"),
        (b"\xff\xfe", "mqtt.payload_not_json"),
        (b'{"v":1,"type":"nurse_call","source":"button","press_id":"p","x":NaN}',
         "mqtt.payload_not_json"),
    ]:  # fmt: skip
        with pytest.raises(PayloadInvalid) as refused:
            parse_event(payload)
        assert refused.value.error_id == error


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
async def test_nurse_call_raised_while_another_terminal_floods(
    db: Database, broker_factory: Callable[[list[str]], PrivateBroker]
) -> None:
    await seed_ward(db, "F1", [("F1-1-A", "1", "4101", "FA"), ("F1-2-A", "2", "4102", "FB")])
    broker = broker_factory(["FA", "FB"])
    await broker.wait_ready()
    creds = broker.credentials
    topics = Topics()
    host, port = "127.0.0.1", broker.port
    login = (creds.service_user, creds.service_password)
    with structlog.testing.capture_logs() as logs:
        async with (
            running_service(db, topics, host, port, login) as service,
            terminal(host, port, topics, "FA", creds.terminals["FA"]) as noisy,
            terminal(host, port, topics, "FB", creds.terminals["FB"]) as calling,
        ):

            async def flood() -> None:
                for n in range(JUNK):
                    await noisy.client.publish(topics.event("FA"), junk(n), qos=1)

            flooding = asyncio.create_task(flood())
            await wait_until(lambda: service.link.received >= JUNK // 3, timeout=30)
            await calling.send(b'{"v":1,"type":"nurse_call","source":"button","press_id":"b-1"}')
            await flooding
            raised = lambda: [e for e in service.events if isinstance(e, NurseCallRaised)]  # noqa: E731
            await wait_until(lambda: len(raised()) == 1, timeout=30)
            assert raised()[0].bed_label == "F1-2-A"
            await wait_until(lambda: service.link.received >= JUNK + 1, timeout=30)
            await service.gateway.idle()
            await asyncio.sleep(0.3)  # a notice would be on its way
            refused = service.gateway.refused
            assert sum(refused.values()) == JUNK  # every junk message counted, none handled
            assert service.gateway.handled == 1  # B's call, and nothing of A's
            for reason in ("payload_too_deep", "payload_too_large", "payload_not_json",
                           "payload_schema", "payload_version", "rate_limited"):  # fmt: skip
                assert refused[f"mqtt.{reason}"] >= 1, reason
            assert refused["mqtt.rate_limited"] > JUNK // 2  # beyond its rate, not even parsed
            errors = [n for n in map(parse_notice, noisy.notices) if n.type == "error"]
            assert len(errors) == 1  # answered once per interval, not 3,000 times
            assert [parse_notice(n).type for n in calling.notices] == ["nurse_call"]
    said = [e for e in logs if e["event"] == "terminal.message_refused"]
    assert len(said) == 1 and said[0]["terminal"] == "FA"
    assert not [e for e in logs if "exc_info" in e or e["log_level"] in {"error", "critical"}]
    assert all("payload" not in e for e in logs)  # ids and reasons only
