"""Two instances' MQTT links on the real Mosquitto, in one shared subscription to the terminals'
events, over one real PostgreSQL: each press is handled by one instance and raises one call;
a press sent again (the terminal's retry, a redelivery) raises nothing more; when one
instance's connection dies without a word, the other takes the next presses."""

from __future__ import annotations

import asyncio
import json
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aiomqtt
import pytest
from sqlalchemy import func, select

from bedside.broker_url import BrokerAddress
from bedside.gateway import TerminalGateway
from bedside.models import NurseCall
from bedside.mqtt_link import MqttLink
from bedside.nurse_call import NurseCalls
from bedside.presence import TerminalRegistry
from bedside.topics import Topics
from tests.bedside.conftest import erase_retained
from tests.bedside.ward import seed_ward
from tests.services import MQTT_HOST, MQTT_PORT, fresh_postgres_database, need_mosquitto
from wardline.bus import EventBus
from wardline.db.engine import Database

BEDS = 40
TERMINALS = [f"T{n:02d}" for n in range(BEDS)]


@dataclass
class Instance:
    db: Database
    link: MqttLink
    gateway: TerminalGateway
    calls: NurseCalls


@asynccontextmanager
async def instance(url: str, topics: Topics, group: str, name: str) -> AsyncIterator[Instance]:
    db, bus = Database(url), EventBus()
    link = MqttLink(BrokerAddress(MQTT_HOST, MQTT_PORT, None, None),
                    client_id=f"{topics.root}-{name}", backoff=(0.05, 0.5),
                    clean_session=True)  # fmt: skip
    registry = TerminalRegistry(db=db, bus=bus, offline_alert_seconds=300)
    calls = NurseCalls(db=db, bus=bus, link=link, topics=topics)
    gateway = TerminalGateway(topics=topics, registry=registry, nurse_calls=calls, link=link)
    link.route(gateway.subscriptions(group), gateway.on_message)
    await bus.start()
    await gateway.start()
    await link.start()
    await link.wait_connected()
    try:
        yield Instance(db, link, gateway, calls)
    finally:
        await gateway.close()
        await calls.close()
        await link.stop()
        await bus.stop()
        await db.dispose()


def press(press_id: str) -> bytes:
    return json.dumps({"v": 1, "type": "nurse_call", "source": "button", "press_id": press_id},
                      separators=(",", ":")).encode()  # fmt: skip


async def calls(db: Database) -> int:
    async with db.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(NurseCall)) or 0)


async def until(check: object, within: float = 30.0) -> None:
    async with asyncio.timeout(within):
        while not await check():  # type: ignore[operator]  # noqa: ASYNC110
            await asyncio.sleep(0.05)


def handled(*instances: Instance) -> int:
    return sum(i.gateway.handled for i in instances)


@pytest.fixture
async def ward(migrated_templates: dict[str, str]) -> AsyncIterator[tuple[str, Topics]]:
    need_mosquitto()
    topics = Topics(root=f"wltest/{uuid.uuid4().hex[:10]}/v1")
    async with fresh_postgres_database(template=migrated_templates["postgres"]) as url:
        db = Database(url)
        beds = [(f"N1-{n}-A", str(n), f"3{n:03d}", tid) for n, tid in enumerate(TERMINALS)]
        await seed_ward(db, "N1", beds, station="2000")
        await db.dispose()
        yield url, topics
    await erase_retained(MQTT_HOST, MQTT_PORT, f"{topics.root}/#")


async def test_each_press_is_handled_once_and_the_survivor_takes_the_next(
    ward: tuple[str, Topics],
) -> None:
    url, topics = ward
    group = f"g{uuid.uuid4().hex[:8]}"
    async with (
        instance(url, topics, group, "a") as a,
        instance(url, topics, group, "b") as b,
        aiomqtt.Client(MQTT_HOST, MQTT_PORT, identifier=f"{topics.root}-terminals") as beds,
    ):
        for tid in TERMINALS[:20]:
            await beds.publish(topics.event(tid), press(f"{tid}-1"), qos=1)

        async def twenty() -> bool:
            return handled(a, b) >= 20 and await calls(a.db) == 20

        await until(twenty)
        await asyncio.sleep(0.3)  # nothing more comes
        assert handled(a, b) == 20  # each press went to one instance only
        assert a.gateway.handled > 0 and b.gateway.handled > 0  # and both took some

        # the same presses again (a terminal's retry, a redelivery), and a second press of
        # a bed whose call is open: handled, and not one more call
        for tid in TERMINALS[:10]:
            await beds.publish(topics.event(tid), press(f"{tid}-1"), qos=1)
            await beds.publish(topics.event(tid), press(f"{tid}-2"), qos=1)

        async def forty() -> bool:
            return handled(a, b) >= 40

        await until(forty)
        await asyncio.sleep(0.3)  # nothing more comes
        assert handled(a, b) == 40 and await calls(a.db) == 20
        assert a.gateway.failures == 0 and b.gateway.failures == 0

        # A's machine dies: its connection is cut without a DISCONNECT, it never comes back
        paho_sock = a.link._client._client._sock  # type: ignore[union-attr]
        assert paho_sock is not None
        paho_sock.shutdown(socket.SHUT_RDWR)
        await a.link.stop()
        before_b = b.gateway.handled
        for tid in TERMINALS[20:]:
            await beds.publish(topics.event(tid), press(f"{tid}-1"), qos=1)

        async def all_of_them() -> bool:
            return await calls(b.db) == BEDS and b.gateway.handled - before_b >= 20

        await until(all_of_them)
        await asyncio.sleep(0.3)  # nothing more comes
        assert b.gateway.handled - before_b == 20
        async with b.db.sessions() as s:
            keys = set(await s.scalars(select(NurseCall.press_key)))
        assert keys == {f"{tid}:{tid}-1" for tid in TERMINALS}


async def test_two_instances_raise_one_call_for_presses_of_one_bed_at_once(
    ward: tuple[str, Topics],
) -> None:
    """The presses handled at the same moment by two instances (not through the broker: the
    race the database settles): one call per bed, every other press a repeat."""
    from bedside.contract import NurseCallPressed

    url, topics = ward
    group = f"g{uuid.uuid4().hex[:8]}"
    async with (
        instance(url, topics, group, "a") as a,
        instance(url, topics, group, "b") as b,
    ):
        calls_a, calls_b = a.calls, b.calls
        results = await asyncio.gather(
            *(
                nc.raise_from_terminal(tid, NurseCallPressed(source="button", press_id=pid))
                for tid in TERMINALS[:10]
                for nc, pid in ((calls_a, "x"), (calls_b, "x"), (calls_a, "y"), (calls_b, "z"))
            )
        )
        assert await calls(a.db) == 10
        ids = {r.bed_label: r.call_id for r in results if r is not None}
        assert len(ids) == 10
        assert all(r is not None and r.call_id == ids[r.bed_label] for r in results)
