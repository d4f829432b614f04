"""Presence: status messages and the last will feed the terminal registry; offline too long
raises an alert."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bedside.topics import Topics
from tests.bedside.harness import Service, connect_with_will_then_vanish, running_service, terminal
from tests.bedside.ward import seed_ward
from tests.services import wait_until
from wardline.db.engine import Database
from wardline.domain.terminal_events import TerminalBackOnline, TerminalOfflineAlert


@pytest.fixture
async def service(
    db: Database, shared_broker: tuple[str, int], topics: Topics
) -> AsyncIterator[Service]:
    await seed_ward(db, "P1", [("P1-1-A", "1", "4101", "PA"), ("P1-2-A", "2", "4102", "PB")])
    async with running_service(db, topics, *shared_broker) as svc:
        yield svc


async def presence(service: Service, tid: str) -> tuple[bool, str | None, bool]:
    rows = {t.terminal_id: t for t in await service.registry.terminals()}
    row = rows[tid]
    return row.online, row.firmware, row.last_seen is not None


async def test_status_will_and_offline_alert(
    service: Service, shared_broker: tuple[str, int], topics: Topics
) -> None:
    host, port = shared_broker
    async with terminal(host, port, topics, "PA") as pa:
        await pa.send(b'{"v":1,"state":"online","firmware":"3.1.0","model":"TV-2"}', "status")
        await wait_until(lambda: service.gateway.handled >= 1)
    assert await presence(service, "PA") == (True, "3.1.0", True)
    assert await service.registry.check_offline() == []

    # The terminal loses power: the broker publishes its last will.
    connect_with_will_then_vanish(
        host, port, f"{topics.root}-PA-2", topics.status("PA"), b'{"v":1,"state":"offline"}'
    )
    await wait_until(lambda: service.gateway.handled >= 2)
    assert await presence(service, "PA") == (False, "3.1.0", True)

    service.clock.advance(299)
    assert await service.registry.check_offline() == []
    service.clock.advance(2)
    [alert] = await service.registry.check_offline()
    assert (alert.terminal_id, alert.bed_label, alert.ward_code) == ("PA", "P1-1-A", "P1")
    assert await service.registry.check_offline() == []  # raised once
    assert [a.terminal_id for a in service.registry.alerts()] == ["PA"]

    async with terminal(host, port, topics, "PA") as pa:
        await pa.send(b'{"v":1,"state":"online","firmware":"3.2.0"}', "status")
        await wait_until(lambda: service.gateway.handled >= 3)
    assert service.registry.alerts() == []
    assert await presence(service, "PA") == (True, "3.2.0", True)
    await service.bus.drain()
    kinds = [type(e) for e in service.events]
    assert kinds.count(TerminalOfflineAlert) == 1 and kinds.count(TerminalBackOnline) == 1
    # PB never spoke: no alert for a terminal never seen.
    assert await presence(service, "PB") == (False, None, False)


async def test_bad_status_and_unknown_terminal_change_nothing(
    service: Service, shared_broker: tuple[str, int], topics: Topics
) -> None:
    host, port = shared_broker
    async with (
        terminal(host, port, topics, "PB") as pb,
        terminal(host, port, topics, "NOPE") as nope,
    ):
        await pb.send(b'{"v":1,"state":"dancing"}', "status")
        await nope.send(b'{"v":1,"state":"online"}', "status")
        await wait_until(lambda: len(pb.notices) == 1 and service.gateway.unknown_terminal == 1)
    assert await presence(service, "PB") == (False, None, False)
    assert "NOPE" not in {t.terminal_id for t in await service.registry.terminals()}


async def test_replayed_offline_status_keeps_the_offline_time(service: Service) -> None:
    """After a restart of the service the broker replays each terminal's retained status:
    a replayed ``offline`` must not restart the terminal's offline time."""
    online = b'{"v":1,"state":"online","firmware":"1"}'
    offline = b'{"v":1,"state":"offline"}'
    service.gateway.on_message(service.topics.status("PB"), online, False)
    service.gateway.on_message(service.topics.status("PB"), offline, False)
    await service.gateway.idle()
    went_offline = service.clock.now
    service.clock.advance(200)
    service.gateway.on_message(service.topics.status("PB"), offline, True)  # replayed
    await service.gateway.idle()
    service.clock.advance(101)
    [alert] = await service.registry.check_offline()
    assert alert.terminal_id == "PB" and alert.last_seen == went_offline
