"""Under the generated Mosquitto configuration (a real Mosquitto started from it), the two
service accounts join one shared subscription to the terminals' events: the ACL grants it and
each terminal's event reaches one of them only. Mosquitto grants any subscription and checks
the ACL per message, so a terminal naming the group would join it and the messages dealt to
it would be dropped (measured: 3 presses of 9 lost): the group's name is derived from the
audit key (``WARDLINE_MQTT_SHARED_GROUP=auto``); a terminal guessing takes nothing."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable

import aiomqtt

from bedside.mqtt_link import BrokerAddress, MqttLink
from bedside.topics import Topics
from tests.bedside.conftest import PrivateBroker
from tests.services import wait_until
from wardline.settings import Settings


async def test_two_service_accounts_share_the_terminals_events(
    broker_factory: Callable[[list[str]], PrivateBroker],
) -> None:
    terminals = [f"T-{n}" for n in range(10)]
    broker = broker_factory(terminals)
    await broker.wait_ready()
    creds = broker.credentials
    topics = Topics()
    settings = Settings(audit_key=base64.urlsafe_b64encode(b"k" * 32).decode())
    group = settings.mqtt_share_group()
    received: dict[str, list[str]] = {}
    links = []
    for user, password in creds.services.items():
        got = received.setdefault(user, [])
        link = MqttLink(
            BrokerAddress("127.0.0.1", broker.port, user, password),
            client_id=user,
            subscriptions=[topics.shared_from_terminals("event", group)],
            on_message=lambda topic, payload, retained, got=got: got.append(topic),
            clean_session=True,
        )
        links.append(link)
        await link.start()
    try:
        for link in links:
            await link.wait_connected()
            assert link.refused_subscriptions == set()
        for tid in terminals:
            password = creds.terminals[tid]
            async with aiomqtt.Client("127.0.0.1", broker.port, username=tid,
                                      password=password) as client:  # fmt: skip
                await client.publish(topics.event(tid), b"{}", qos=1)
        await wait_until(lambda: sum(len(v) for v in received.values()) >= len(terminals))
        await asyncio.sleep(0.3)  # nothing more comes
        everything = [t for v in received.values() for t in v]
        assert sorted(everything) == sorted(topics.event(t) for t in terminals)
        assert all(received[user] for user in creds.services)  # both took some

        # a terminal guessing the group's name (Mosquitto grants the subscription) takes
        # nothing from the services
        t0 = ("T-0", creds.terminals["T-0"])
        for got in received.values():
            got.clear()
        async with aiomqtt.Client("127.0.0.1", broker.port, username=t0[0],
                                  password=t0[1]) as spy:  # fmt: skip
            for guess in ("wardline", "wardline-service", "service", "nurse_call"):
                await spy.subscribe(topics.shared_from_terminals("event", guess), qos=1)
            for tid in terminals[1:]:
                async with aiomqtt.Client("127.0.0.1", broker.port, username=tid,
                                          password=creds.terminals[tid]) as client:  # fmt: skip
                    await client.publish(topics.event(tid), b"{}", qos=1)
            await asyncio.sleep(1.0)
        everything = [t for v in received.values() for t in v]
        assert sorted(everything) == sorted(topics.event(t) for t in terminals[1:])
    finally:
        for link in links:
            await link.stop()


def test_the_automatic_group_is_the_same_for_one_key_and_not_guessable() -> None:
    key = base64.urlsafe_b64encode(b"k" * 32).decode()
    other = base64.urlsafe_b64encode(b"o" * 32).decode()
    one, two = Settings(audit_key=key), Settings(audit_key=key)
    assert one.mqtt_share_group() == two.mqtt_share_group()  # every instance: one group
    assert one.mqtt_share_group() != Settings(audit_key=other).mqtt_share_group()
    assert len(one.mqtt_share_group()) == 32 and "wardline" not in one.mqtt_share_group()
    assert Settings(audit_key=key, mqtt_shared_group="").mqtt_share_group() == ""
    assert Settings(audit_key=key, mqtt_shared_group="ward-a").mqtt_share_group() == "ward-a"
    Topics().shared_from_terminals("event", one.mqtt_share_group())  # a valid group name
