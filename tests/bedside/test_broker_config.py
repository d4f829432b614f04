"""The generated Mosquitto configuration, checked by a real Mosquitto started from it."""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

import aiomqtt
import pytest

from bedside.broker_config import (
    CREDENTIALS_FILE,
    ListenerOptions,
    load_or_create_credentials,
    mosquitto_password_hash,
    render_acl,
    render_conf,
    verify_mosquitto_password,
    write_broker_config,
)
from bedside.errors import BedsideError
from bedside.mqtt_link import BrokerAddress, MqttLink
from bedside.topics import Topics
from tests.bedside.conftest import PrivateBroker, free_port, retained
from tests.services import port_open, wait_until


def test_password_hash_format_and_verify() -> None:
    stored = mosquitto_password_hash("s3cret")
    kind, iterations, salt, digest = stored.split("$")[1:]
    assert (kind, iterations) == ("7", "101")
    assert len(salt) == 16 and len(digest) == 88  # base64 of 12 and 64 bytes
    assert verify_mosquitto_password("s3cret", stored)
    assert not verify_mosquitto_password("other", stored)


def test_credentials_generated_once(tmp_path: Path) -> None:
    first = load_or_create_credentials(tmp_path, ["T-1"])
    again = load_or_create_credentials(tmp_path, ["T-1", "T-2"])
    assert again.terminals["T-1"] == first.terminals["T-1"]
    assert again.service_password == first.service_password
    assert set(again.terminals) == {"T-1", "T-2"}
    assert (tmp_path / CREDENTIALS_FILE).stat().st_mode & 0o077 == 0


def test_acl_confines_terminals() -> None:
    acl = render_acl("svc")
    assert "pattern read wardline/v1/terminal/%u/#" in acl
    assert "pattern write wardline/v1/terminal/%u/status" in acl
    assert "pattern write wardline/v1/terminal/%u/event" in acl
    assert "pattern write wardline/v1/terminal/%u/context" not in acl


async def test_terminal_confined_to_its_own_topics(
    broker_factory: Callable[[list[str]], PrivateBroker],
) -> None:
    broker = broker_factory(["T-1", "T-2"])
    await broker.wait_ready()
    creds = broker.credentials
    topics = Topics()
    received: list[str] = []

    def on_message(topic: str, payload: bytes, retained_flag: bool) -> None:
        received.append(topic)

    link = MqttLink(
        BrokerAddress("127.0.0.1", broker.port, creds.service_user, creds.service_password),
        client_id="svc-acl",
        subscriptions=[topics.all_from_terminals("event")],
        on_message=on_message,
    )
    await link.start()
    try:
        await link.wait_connected()
        await link.publish(topics.context("T-1"), b"ctx-1", retain=True)
        await link.publish(topics.context("T-2"), b"ctx-2", retain=True)
        t1 = ("T-1", creds.terminals["T-1"])
        own = await retained("127.0.0.1", broker.port, f"{topics.root}/terminal/T-1/#",
                             username=t1[0], password=t1[1])  # fmt: skip
        assert own == {topics.context("T-1"): b"ctx-1"}
        other = await retained("127.0.0.1", broker.port, f"{topics.root}/terminal/T-2/#",
                               username=t1[0], password=t1[1])  # fmt: skip
        assert other == {}
        everything = await retained("127.0.0.1", broker.port, f"{topics.root}/#",
                                    username=t1[0], password=t1[1])  # fmt: skip
        assert everything == {topics.context("T-1"): b"ctx-1"}  # a wildcard reveals no other

        async with aiomqtt.Client("127.0.0.1", broker.port, username=t1[0], password=t1[1]) as c:
            await c.publish(topics.event("T-2"), b"spoofed", qos=1)  # not its topic
            await c.publish(topics.context("T-1"), b"forged", qos=1, retain=True)  # read-only
            await c.publish(topics.event("T-1"), b"mine", qos=1)
        await wait_until(lambda: topics.event("T-1") in received)
        await asyncio.sleep(0.2)
        assert received == [topics.event("T-1")]
        own = await retained("127.0.0.1", broker.port, f"{topics.root}/terminal/T-1/#",
                             username=t1[0], password=t1[1])  # fmt: skip
        assert own == {topics.context("T-1"): b"ctx-1"}

        with pytest.raises(aiomqtt.MqttError):
            async with aiomqtt.Client("127.0.0.1", broker.port, username="T-1", password="bad"):
                pass
        with pytest.raises(aiomqtt.MqttError):
            async with aiomqtt.Client("127.0.0.1", broker.port):
                pass
    finally:
        await link.stop()


def test_generated_conf_binds_client_ids_and_names_its_user(tmp_path: Path) -> None:
    creds = load_or_create_credentials(
        tmp_path / "data", ["T-1"], service_users=["svc-a", "svc-b", "svc-a"]
    )
    assert list(creds.services) == ["svc-a", "svc-b"] and creds.service_user == "svc-a"
    again = load_or_create_credentials(tmp_path / "data", ["T-1"], service_users=["svc-b"])
    assert again.services["svc-a"] == creds.services["svc-a"]  # other instances' accounts kept
    assert again.service_user == "svc-b"
    conf = render_conf(tmp_path / "out", ListenerOptions(run_as="mosquitto"))
    assert "use_username_as_clientid true" in conf.splitlines()
    assert "user mosquitto" in conf.splitlines()
    acl = render_acl(creds.services)
    assert "user svc-a\ntopic readwrite wardline/v1/#" in acl
    assert "user svc-b\ntopic readwrite wardline/v1/#" in acl
    with pytest.raises(BedsideError) as clash:
        load_or_create_credentials(tmp_path / "data", ["svc-b"])
    assert clash.value.error_id == "mqtt.user_clash"


async def test_a_terminal_cannot_take_the_service_client_id(
    broker_factory: Callable[[list[str]], PrivateBroker],
) -> None:
    """With client ids bound to accounts, a terminal connecting (clean session) under the
    service's client id neither kicks the service off nor discards its persistent session: a
    nurse call sent while the service is away is delivered when it returns."""
    broker = broker_factory(["T-1", "T-2"])
    await broker.wait_ready()
    creds = broker.credentials
    topics = Topics()
    received: list[bytes] = []

    def make_link() -> MqttLink:
        return MqttLink(
            BrokerAddress("127.0.0.1", broker.port, creds.service_user, creds.service_password),
            client_id=creds.service_user,
            subscriptions=[topics.all_from_terminals("event")],
            on_message=lambda topic, payload, retained_flag: received.append(payload),
            backoff=(0.05, 0.2),
        )

    t1 = {"username": "T-1", "password": creds.terminals["T-1"]}
    t2 = {"username": "T-2", "password": creds.terminals["T-2"]}
    link = make_link()
    await link.start()
    try:
        await link.wait_connected()
        for _ in range(10):  # the attack of the issue: the service's id, clean session
            async with aiomqtt.Client(
                "127.0.0.1", broker.port, identifier=creds.service_user, clean_session=True,
                **t1,
            ) as intruder:  # fmt: skip
                await intruder.publish(topics.event("T-1"), b"from-intruder", qos=1)
        async with aiomqtt.Client("127.0.0.1", broker.port, **t2) as bed:
            await bed.publish(topics.event("T-2"), b"call-while-up", qos=1)
        await wait_until(lambda: b"call-while-up" in received)
        assert link.connections == 1 and link.state == "up"  # never kicked off
        assert received.count(b"from-intruder") == 10
    finally:
        await link.stop()  # the service goes away; its persistent session stays

    async with aiomqtt.Client(
        "127.0.0.1", broker.port, identifier=creds.service_user, clean_session=True, **t1
    ):
        pass  # would have discarded the service's session, were the id not bound
    async with aiomqtt.Client("127.0.0.1", broker.port, **t2) as bed:
        await bed.publish(topics.event("T-2"), b"call-while-away", qos=1)
    link = make_link()
    await link.start()
    try:
        await wait_until(lambda: b"call-while-away" in received)
    finally:
        await link.stop()


def _traversable_directory() -> Path:
    """Where a package would put the files: a directory the mosquitto user can traverse."""
    base = Path(tempfile.mkdtemp(prefix="wl-broker-"))
    base.chmod(0o755)
    return base


def _start_mosquitto(conf: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        ["mosquitto", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


def _uid_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    raise AssertionError("no Uid line")


async def test_generated_files_start_mosquitto_as_root() -> None:
    """Started as root, Mosquitto drops to the configured user before reading passwd and acl
    ("Unable to open pwfile" when they belonged to root, mode 0600)."""
    if os.geteuid() != 0:
        pytest.skip("needs root: Mosquitto drops privileges only when started as root")
    try:
        mosquitto_user = pwd.getpwnam("mosquitto")
    except KeyError:
        pytest.skip("no mosquitto user on this machine")
    if shutil.which("mosquitto") is None:
        pytest.fail("mosquitto binary missing")
    base = _traversable_directory()
    try:
        out = base / "mosquitto"
        creds = load_or_create_credentials(base / "secrets", ["T-1"])
        port = free_port()
        write_broker_config(out, creds, ListenerOptions(port=port, run_as="mosquitto"))
        for name in ("passwd", "acl", "data"):
            info = (out / name).stat()
            assert info.st_uid == mosquitto_user.pw_uid, name
            assert info.st_mode & 0o077 == 0, name
        process = _start_mosquitto(out / "mosquitto.conf")
        try:
            await wait_until(lambda: port_open("127.0.0.1", port) or process.poll() is not None)
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            assert _uid_of(process.pid) == mosquitto_user.pw_uid
            service = {"username": creds.service_user, "password": creds.service_password}
            async with aiomqtt.Client("127.0.0.1", port, **service) as client:
                await client.publish("wardline/v1/terminal/T-1/context", b"{}", qos=1, retain=True)
        finally:
            process.terminate()
            process.wait(timeout=5)
        assert (out / "data" / "mosquitto.db").exists()  # persistence written as that user
    finally:
        shutil.rmtree(base)
