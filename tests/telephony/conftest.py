from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from telephony.ami_link import AmiLink, Backoff
from telephony.pbx_session import PbxSession
from telephony.pbx_simulator import PbxSimulator
from wardline.domain.events import DomainEvent


@dataclass
class Lab:
    sim: PbxSimulator
    session: PbxSession
    events: list[DomainEvent] = field(default_factory=list)

    def of(self, kind: type[DomainEvent]) -> list[DomainEvent]:
        return [e for e in self.events if isinstance(e, kind)]


def make_link(port: int, secret: str = "wardline-secret", **kwargs: object) -> AmiLink:
    return AmiLink(
        host="127.0.0.1",
        port=port,
        username="wardline",
        secret=secret,
        action_timeout=2.0,
        backoff=Backoff(initial=0.05, maximum=0.2),
        **kwargs,
    )  # type: ignore[arg-type]


@pytest.fixture
async def lab() -> AsyncIterator[Lab]:
    sim = await PbxSimulator().start()
    for bed in ("2001", "2002", "2003", "2004"):
        sim.astdb[f"bed/{bed}/active"] = "1"
    events: list[DomainEvent] = []
    session = PbxSession(make_link(sim.port), events.append)
    await session.start()
    await session.link.wait_synced(5)
    try:
        yield Lab(sim, session, events)
    finally:
        await session.stop()
        await sim.stop()
