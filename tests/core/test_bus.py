"""The in-process event bus: order per subscriber, failure isolation, drain."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from wardline.bus import EventBus
from wardline.domain.events import DomainEvent


@dataclass(frozen=True, kw_only=True)
class Tick(DomainEvent):
    n: int


@dataclass(frozen=True, kw_only=True)
class Other(DomainEvent):
    pass


async def test_order_isolation_and_drain() -> None:
    bus = EventBus()
    seen: list[int] = []
    slow_seen: list[int] = []

    async def good(event: Tick) -> None:
        seen.append(event.n)

    async def failing(event: Tick) -> None:
        raise RuntimeError("boom")

    async def slow(event: Tick) -> None:
        await asyncio.sleep(0.001)
        slow_seen.append(event.n)

    bus.subscribe(Tick, good, name="good")
    bus.subscribe(Tick, failing, name="failing")
    bus.subscribe(Tick, slow, name="slow")
    await bus.start()
    for n in range(50):
        bus.publish(Tick(n=n))
    bus.publish(Other())
    await bus.drain()
    assert seen == list(range(50)) and slow_seen == list(range(50))
    assert bus.published == 51 and bus.depth() == 0
    await bus.stop()


async def test_subscriber_added_while_running() -> None:
    bus = EventBus()
    await bus.start()
    got: list[DomainEvent] = []

    async def handler(e: DomainEvent) -> None:
        got.append(e)

    bus.subscribe(DomainEvent, handler, name="late")
    bus.publish(Other())
    await bus.drain()
    assert len(got) == 1
    await bus.stop()
