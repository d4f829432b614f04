"""Real services for tests: PostgreSQL and Mosquitto on 127.0.0.1.

A test that needs a service skips when it is missing, except when
``WARDLINE_REQUIRE_SERVICES=1`` (CI), where it fails: CI never skips silently.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

PG_ADMIN_URL = os.environ.get("WARDLINE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
MQTT_HOST = os.environ.get("WARDLINE_TEST_MQTT_HOST", "127.0.0.1")
MQTT_PORT = int(os.environ.get("WARDLINE_TEST_MQTT_PORT", "1883"))


def services_required() -> bool:
    return os.environ.get("WARDLINE_REQUIRE_SERVICES", "") in {"1", "true", "yes"}


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def need_service(name: str, host: str, port: int) -> None:
    if port_open(host, port):
        return
    message = f"{name} is not reachable on {host}:{port}"
    if services_required():
        pytest.fail(message + " (WARDLINE_REQUIRE_SERVICES=1)")
    pytest.skip(message)


def need_postgres() -> None:
    need_service("PostgreSQL", "127.0.0.1", 5432)


def need_mosquitto() -> None:
    need_service("Mosquitto", MQTT_HOST, MQTT_PORT)


def postgres_url(name: str) -> str:
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    return f"{base}/{name}"


@asynccontextmanager
async def fresh_postgres_database(template: str | None = None) -> AsyncIterator[str]:
    """Create a database for one test (empty, or a copy of ``template``) and drop it after;
    yield its asyncpg URL."""
    import asyncpg

    need_postgres()
    name = f"wl_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(PG_ADMIN_URL)
    try:
        suffix = f' TEMPLATE "{template}"' if template else ""
        await admin.execute(f'CREATE DATABASE "{name}"{suffix}')
    finally:
        await admin.close()
    try:
        yield postgres_url(name)
    finally:
        admin = await asyncpg.connect(PG_ADMIN_URL)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


async def wait_until(
    predicate: object,
    timeout: float = 5.0,  # noqa: ASYNC109 (a polling deadline, not a cancellation)
    interval: float = 0.02,
) -> None:
    """Poll ``predicate()`` (sync or async) until true, or fail the test."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = predicate()  # type: ignore[operator]
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if loop.time() > deadline:
            pytest.fail(f"condition not met within {timeout}s")
        await asyncio.sleep(interval)
