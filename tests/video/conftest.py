"""Fixtures of the video tests: a real Janus and coturn (tests/video/gateways.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.video.gateways import Gateways, running_gateways
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
