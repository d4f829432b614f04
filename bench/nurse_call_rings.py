"""The ring part of ``bench/nurse_call_latency.py``: a terminal's press over MQTT to the nurse
station ringing, a nurse's badge at the bed to every ring stopped, and the PBX coming back to
the open call ringing again, through the real service parts (MQTT gateway, nurse calls on
SQLite, bus, AMI link, ringer) against the PBX simulator or a real Asterisk 22 with a sipp
station (``--asterisk``). Baselines of the same run: the same Originate and Hangup sent bare
on the same AMI link (the PBX's own floor), and the AMI link's own return after the restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiomqtt

from bedside.contract import NurseCallPressed
from bedside.gateway import TerminalGateway
from bedside.mqtt_link import NO_DELAY, MqttLink, parse_mqtt_url
from bedside.nurse_call import NurseCalls
from bedside.nurse_call_ring_plan import RingPlanner
from bedside.presence import TerminalRegistry
from bedside.topics import Topics
from telephony.ami.frames import AmiMessage
from telephony.ami.link import AmiLink, Backoff
from telephony.calls.session import PbxSession
from telephony.nurse_call_ring import NurseCallRinger
from wardline.bus import EventBus
from wardline.db.engine import Database, upgrade
from wardline.domain.audit import AuditLog
from wardline.domain.commands import SYSTEM_ADMIN_CLI
from wardline.domain.inventory import load_inventory
from wardline.domain.staff import StaffDirectory

ROOT = Path(__file__).resolve().parents[1]
HOSPITAL = ROOT / "examples" / "hospital.yaml"
STATION, TERMINAL, BADGE = "2900", "T-CARDIO-101-A", "BENCH-BADGE-1"
TAP = b'{"v":1,"type":"badge_tap","badge_id":"' + BADGE.encode() + b'"}'


@dataclass
class Watch:
    """The station's channels as the AMI link reports them."""

    ringing: dict[str, float] = field(default_factory=dict)  # uniqueid -> when it rang
    gone: dict[str, float] = field(default_factory=dict)  # uniqueid -> when it hung up
    generation: int = 0  # a restarted PBX may give its channels the ids of the last one

    def on_frame(self, frame: AmiMessage) -> None:
        if not frame.get("Channel").startswith(f"PJSIP/{STATION}-"):
            return
        now = time.perf_counter()
        key = f"{self.generation}:{frame.get('Uniqueid')}"
        if frame.name == "Newstate" and frame.get("ChannelStateDesc") == "Ringing":
            self.ringing.setdefault(key, now)
        elif frame.name == "Hangup":
            self.gone.setdefault(key, now)

    def live(self) -> set[str]:
        return set(self.ringing) - set(self.gone)

    def lost(self) -> None:
        """The PBX went away: its channels are gone with it (no Hangup will tell)."""
        now = time.perf_counter()
        for uniqueid in self.live():
            self.gone[uniqueid] = now
        self.generation += 1

    async def rang_after(self, seen: set[str]) -> float:
        """When the first channel not in ``seen`` rang (waiting for it)."""
        await until(lambda: set(self.ringing) - seen)
        return min(self.ringing[u] for u in set(self.ringing) - seen)

    async def stopped(self, ours: set[str]) -> float:
        """When the last of ``ours`` hung up (waiting for it)."""
        await until(lambda: not (ours & self.live()))
        return max(self.gone[u] for u in ours)


async def until(predicate: Callable[[], object], within: float = 30.0) -> None:
    deadline = time.perf_counter() + within
    while not predicate():
        if time.perf_counter() > deadline:
            raise TimeoutError("the PBX did not report it in time")
        await asyncio.sleep(0.001)


@contextlib.asynccontextmanager
async def pbx_peer(asterisk: str | None) -> AsyncIterator[Any]:
    """The simulator of the example hospital, or a real Asterisk with a sipp station."""
    if asterisk is None:
        from telephony.simulator.server import PbxSimulator

        sim = await PbxSimulator.from_inventory(HOSPITAL).start()
        try:
            yield sim
        finally:
            await sim.stop()
        return
    from tests.telephony.real_pbx import RealPbx, SipPhone

    root = Path(tempfile.mkdtemp(prefix="wl-bench-ast-"))
    real = await RealPbx(root, Path(asterisk)).start()
    phone = await SipPhone(real, STATION, answers=False).register()
    try:
        yield real
    finally:
        await phone.stop()
        await real.stop()


def ami_port(peer: Any) -> int:
    return int(peer.port if hasattr(peer, "port") else peer.ami_port)


def ami_secret(peer: Any) -> str:
    if hasattr(peer, "ami_port"):
        from tests.telephony.real_pbx import AMI_SECRET

        return AMI_SECRET
    return "wardline-secret"


async def restart(peer: Any, link: AmiLink) -> Any:
    """Stop the PBX (until the link has seen it go) and start it again on the same port;
    returns the PBX once it is back (a real Asterisk: fully booted)."""
    real = hasattr(peer, "ami_port")
    port = ami_port(peer)
    await peer.stop()
    await until(lambda: not link.synced)
    if real:
        await peer.start()
        return peer
    from telephony.simulator.server import PbxSimulator

    return await PbxSimulator.from_inventory(HOSPITAL).start(port=port)


async def login_round_trip(peer: Any) -> float:
    """The floor of reaching the PBX that is back: a fresh AMI connection and its login."""
    start = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", ami_port(peer))
    try:
        await reader.readline()
        writer.write(
            f"Action: Login\r\nUsername: wardline\r\nSecret: {ami_secret(peer)}\r\n"
            "Events: off\r\n\r\n".encode()
        )
        await reader.readuntil(b"\r\n\r\n")
        return time.perf_counter() - start
    finally:
        writer.close()


async def ring_run(
    url: str, topics: Topics, presses: int, restarts: int, asterisk: str | None
) -> dict[str, list[float]]:
    folder = Path(tempfile.mkdtemp(prefix="wl-bench-ring-"))
    db_url = f"sqlite+aiosqlite:///{folder / 'bench.db'}"
    await upgrade(db_url)
    db = Database(db_url)
    audit = AuditLog()
    await load_inventory(db, HOSPITAL, SYSTEM_ADMIN_CLI, audit)
    await StaffDirectory(db, audit).add_user(
        SYSTEM_ADMIN_CLI, username="bench-nurse", display_name="Bench", roles={"nurse"},
        password="long-enough-pw", badge=BADGE,
    )  # fmt: skip
    out: dict[str, list[float]] = {k: [] for k in ("press", "clear", "back", "bare_ring",
                                                   "bare_stop", "link_back")}  # fmt: skip
    async with pbx_peer(asterisk) as peer:
        bus = EventBus()
        link = AmiLink(
            host="127.0.0.1", port=ami_port(peer), username="wardline", secret=ami_secret(peer),
            backoff=Backoff(initial=0.05, maximum=0.2),
        )  # fmt: skip
        session = PbxSession(link, bus.publish)
        ringer = NurseCallRinger(link, bus.publish)
        watch = Watch()
        link.subscribe(watch.on_frame)
        link.subscribe(ringer.on_frame)
        bus.subscribe(NurseCallRinger.EVENTS, ringer, name="bench.ring")
        mqtt = MqttLink(parse_mqtt_url(url), client_id=f"bench-ring-{uuid.uuid4().hex[:6]}")
        registry = TerminalRegistry(db=db, bus=bus, offline_alert_seconds=300)
        calls = NurseCalls(db=db, bus=bus, link=mqtt, topics=topics, audit=audit,
                           planner=RingPlanner())  # fmt: skip
        calls.subscribe(bus)
        gateway = TerminalGateway(topics=topics, registry=registry, nurse_calls=calls, link=mqtt)
        mqtt.route(gateway.subscriptions(), gateway.on_message)
        await bus.start()
        await mqtt.start()
        await mqtt.wait_connected()
        await session.start()
        await link.wait_synced(30)
        addr = parse_mqtt_url(url)
        try:
            login = {"username": addr.username, "password": addr.password}
            async with aiomqtt.Client(
                addr.host, addr.port, socket_options=[NO_DELAY], **login
            ) as term:
                for i in range(presses):
                    await _bare(link, watch, out, i)
                    seen = set(watch.ringing)
                    start = time.perf_counter()
                    payload = NurseCallPressed(source="button", press_id=f"b{i}").to_bytes()
                    await term.publish(topics.event(TERMINAL), payload, qos=1)
                    out["press"].append(await watch.rang_after(seen) - start)
                    ours = watch.live()
                    start = time.perf_counter()
                    await term.publish(topics.event(TERMINAL), TAP, qos=1)
                    out["clear"].append(await watch.stopped(ours) - start)
                for i in range(restarts):
                    await term.publish(topics.event(TERMINAL), NurseCallPressed(
                        source="button", press_id=f"r{i}").to_bytes(), qos=1)  # fmt: skip
                    await until(watch.live)
                    peer = await restart(peer, link)
                    back = time.perf_counter()
                    watch.lost()
                    seen = set(watch.ringing)
                    out["link_back"].append(await login_round_trip(peer))
                    out["back"].append(await watch.rang_after(seen) - back)
                    ours = watch.live()
                    await term.publish(topics.event(TERMINAL), TAP, qos=1)
                    await watch.stopped(ours)
        finally:
            await ringer.close()
            await calls.close()
            await session.stop()
            await mqtt.stop()
            await bus.stop()
            await db.dispose()
    return out


async def _bare(link: AmiLink, watch: Watch, out: dict[str, list[float]], i: int) -> None:
    """The floor: the ring's Originate and its Hangup sent bare on the same link."""
    ring_id = f"bench-bare-{uuid.uuid4().hex[:8]}-{i}"
    seen = set(watch.ringing)
    start = time.perf_counter()
    await link.send({
        "Action": "Originate", "Channel": f"Local/{STATION}@wl-nurse-ring",
        "Context": "wl-nurse-answered", "Exten": "s", "Priority": "1", "Async": "true",
        "ChannelId": ring_id, "Timeout": "30000", "CallerID": "Bench <2990>",
        "Variable": ["WL_NC_ID=0", f"WL_NC_STATION={STATION}", "WL_NC_LIMIT=30"],
    }, as_list=False)  # fmt: skip
    out["bare_ring"].append(await watch.rang_after(seen) - start)
    ours = watch.live()
    start = time.perf_counter()
    await link.send({"Action": "Hangup", "Channel": ring_id, "Cause": "16"})
    out["bare_stop"].append(await watch.stopped(ours) - start)
