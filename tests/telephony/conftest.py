from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from telephony.ami.link import AmiLink, Backoff
from telephony.calls.session import PbxSession
from telephony.simulator.server import PbxSimulator
from tests.telephony.real_pbx import AMI_SECRET, RealPbx, asterisk_binary, skip_reason
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


@pytest.fixture
async def real_pbx() -> AsyncIterator[RealPbx]:
    """A real Asterisk on the generated configuration (opt-in: ``WARDLINE_TEST_ASTERISK``)."""
    reason = skip_reason()
    if reason is not None:
        pytest.skip(reason)
    binary = asterisk_binary()
    assert binary is not None
    # a short path: the control socket's name must fit in sun_path (108 bytes)
    root = Path(tempfile.mkdtemp(prefix="wl-ast-"))
    pbx = RealPbx(root, binary)
    try:
        await pbx.start()
        yield pbx
    finally:
        await pbx.stop()
        if os.environ.get("WARDLINE_KEEP_PBX_DIR") != "1":
            shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
async def real_session(real_pbx: RealPbx) -> AsyncIterator[Lab]:
    """The product's PBX session logged in to the real Asterisk with the generated account."""
    events: list[DomainEvent] = []
    link = make_link(real_pbx.ami_port, secret=AMI_SECRET)
    session = PbxSession(link, events.append)
    await session.start()
    await session.link.wait_synced(10)
    try:
        yield Lab(None, session, events)  # type: ignore[arg-type]
    finally:
        await session.stop()
