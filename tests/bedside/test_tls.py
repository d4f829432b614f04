"""``mqtts://``: the generated TLS listener and the service's link verifying the broker."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from bedside.errors import BrokerUnavailable
from bedside.mqtt_link import MqttLink, parse_mqtt_url
from bedside.topics import Topics
from tests.bedside.conftest import PrivateBroker, free_port
from tests.services import port_open


def make_certificates(folder: Path) -> dict[str, str]:
    """A throw-away CA and a server certificate for 127.0.0.1 (openssl)."""
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run = lambda *args: subprocess.run(  # noqa: E731
        ["openssl", *args], cwd=folder, check=True, capture_output=True
    )
    run("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "1",
        "-subj", "/CN=wardline-test-ca")  # fmt: skip
    run("req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1")
    (folder / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "server.crt", "-days", "1", "-extfile", "san.ext")  # fmt: skip
    (folder / "server.key").chmod(0o644)
    return {
        "cafile": str(folder / "ca.crt"),
        "certfile": str(folder / "server.crt"),
        "keyfile": str(folder / "server.key"),
    }


async def test_mqtts_link(tmp_path: Path, broker_factory: Callable[..., PrivateBroker]) -> None:
    certs = make_certificates(tmp_path)
    tls_port = free_port()
    broker = broker_factory(["T-S"], tls_port=tls_port, **certs)
    await broker.wait_ready()
    for _ in range(100):
        if port_open("127.0.0.1", tls_port):
            break
        await asyncio.sleep(0.05)
    conf = (broker.directory / "mosquitto.conf").read_text()
    assert f"listener {tls_port} 127.0.0.1" in conf and f"certfile {certs['certfile']}" in conf
    creds = broker.credentials
    url = f"mqtts://{creds.service_user}:{creds.service_password}@127.0.0.1:{tls_port}"
    topics = Topics()
    got: list[bytes] = []

    def on_message(topic: str, payload: bytes, retained: bool) -> None:
        got.append(payload)

    link = MqttLink(parse_mqtt_url(url), client_id="svc-tls", ca_file=certs["cafile"],
                    subscriptions=[topics.context("T-S")], on_message=on_message)  # fmt: skip
    await link.start()
    try:
        await link.wait_connected()
        await link.publish(topics.context("T-S"), b"over-tls", retain=True)
        for _ in range(100):
            if got:
                break
            await asyncio.sleep(0.02)
        assert got == [b"over-tls"]
    finally:
        await link.stop()

    # Without the CA the broker's certificate is not trusted: no connection.
    untrusted = MqttLink(parse_mqtt_url(url), client_id="svc-tls-2", backoff=(0.05, 0.1))
    await untrusted.start()
    try:
        with pytest.raises(BrokerUnavailable):
            await untrusted.wait_connected(within=1.0)
        assert "certificate" in (untrusted.last_error or "").lower()
    finally:
        await untrusted.stop()
