"""Fixtures of the video tests: a real Janus and coturn (tests/video/gateways.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import FakeClock, Hospital
from tests.video.gateways import Gateways, running_gateways
from tests.video.lab import Serve, VideoLab, open_video_lab
from video.janus_client import JanusAddress, JanusGateway


@pytest.fixture
async def gateways(tmp_path: Path) -> AsyncIterator[Gateways]:
    async with running_gateways(tmp_path / "gateways") as running:
        yield running


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def address(g: Gateways) -> JanusAddress:
    c = g.config
    return JanusAddress(g.api_url, g.admin_url, c.api_secret, c.admin_secret, c.room_admin_key)


@pytest.fixture
def janus(gateways: Gateways, http: aiohttp.ClientSession) -> JanusGateway:
    return JanusGateway(http, address(gateways))


@pytest.fixture
def clock() -> FakeClock:
    """Now: coturn checks the TURN credentials' expiry against the real time."""
    return FakeClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
async def videolab(
    hospital: Hospital, tmp_path: Path, gateways: Gateways, serve_app: Serve
) -> AsyncIterator[VideoLab]:
    lab = await open_video_lab(hospital, tmp_path, gateways, serve_app)
    yield lab
    await lab.close()
