"""The steady load of the cluster tests: ADT feeds that keep each message until its ACK (as a
real sender does, resending it to the next address after a timeout or a cut), nurse-call
buttons on the terminals (MQTT), the rings the PBX places, and switchboard consoles on each
instance's live feed (WebSocket)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import random
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import aiohttp
import aiomqtt
from hl7.mllp import open_hl7_connection

from bedside.contract import NurseCallPressed
from ehr_bridge.adt_builder import AdtBed, AdtPatient, ack_code, adt_message
from telephony.simulator.nurse_ring import RING_CONTEXT
from tests.cluster.harness import CONSOLE_PASSWORD, CONSOLE_USER, Instance, WardBed
from tests.services import MQTT_HOST, MQTT_PORT

SENDER = "CLUSTER-ADT"


@dataclass(frozen=True)
class AdtSend:
    control_id: str
    trigger: str
    visit: str
    bed: WardBed
    message: bytes


@dataclass
class PlannedStay:
    visit: str
    beds: list[WardBed]
    discharged: bool = False


class AdtPlan:
    """Patients admitted, transferred, then (most of them) discharged. A bed is given to a
    new patient only once the message that freed it was acknowledged (the ACK follows the
    apply), and after every other free bed (first freed, last reused), so the load never
    runs out of beds and the end state does not depend on the order of different patients."""

    def __init__(self, beds: list[WardBed], seed: int, prefix: str = "VC") -> None:
        self._free: deque[WardBed] = deque(beds)
        self.prefix = prefix
        self.rng = random.Random(seed)
        self.stays: dict[str, PlannedStay] = {}
        self._numbers = itertools.count(1)

    def next_patient(self, feed: str) -> Iterator[AdtSend] | None:
        if len(self._free) < 2:
            return None
        first, second = self._free.popleft(), self._free.popleft()
        n = next(self._numbers)
        patient = AdtPatient(
            ipp=f"{self.prefix}{n:05d}", family=f"CLUSTER{n}", given="Test",
            visit_number=f"{self.prefix}{n:05d}", birth_date=date(1960, 1, 1), sex="F",
        )  # fmt: skip
        stay = PlannedStay(patient.visit_number, [first, second])
        self.stays[stay.visit] = stay
        discharge = self.rng.random() < 0.6
        return self._messages(feed, patient, stay, discharge)

    def _messages(
        self, feed: str, patient: AdtPatient, stay: PlannedStay, discharge: bool
    ) -> Iterator[AdtSend]:
        """Resumed by the feed once the message yielded was acknowledged."""
        steps = [("A01", stay.beds[0]), ("A02", stay.beds[1])]
        if discharge:
            steps.append(("A03", stay.beds[1]))
        for trigger, bed in steps:
            control = f"{feed}-{patient.visit_number}-{trigger}"
            where = AdtBed(ward=bed.ward, room=bed.room, bed=bed.bed)
            message = adt_message(trigger, patient, where, control, sender=SENDER)
            if trigger == "A03":
                stay.discharged = True
            yield AdtSend(control, trigger, patient.visit_number, bed, message)
            if trigger == "A02":
                self._free.append(stay.beds[0])  # the transfer freed it
            if trigger == "A03":
                self._free.append(stay.beds[1])

    def expected_lines(self) -> dict[str, str]:
        """Bed extension -> visit of the patient in it at the end."""
        return {s.beds[-1].extension: s.visit for s in self.stays.values() if not s.discharged}


@dataclass
class AdtFeed:
    """One sending system: one message at a time, each kept until an ACK, sent to the
    instances in turn (``alternate``) and to the next one after a timeout or a refusal."""

    name: str
    targets: list[Instance]
    plan: AdtPlan
    timeout: float = 2.0
    pause: float = 0.3
    sticky: bool = False
    """Keep to one instance until it fails (one connection through a load balancer); else
    each message goes to the next instance in turn."""
    acked: dict[str, str] = field(default_factory=dict)
    sent: list[AdtSend] = field(default_factory=list)
    resends: int = 0
    """Messages written to an instance that gave no ACK, sent again to the next one."""
    refusals: int = 0
    """Connections refused (the instance is down): the message goes to the next one."""
    latencies: list[float] = field(default_factory=list)
    _conns: dict[str, Any] = field(default_factory=dict)
    _turn: int = 0

    async def run(self, stop: asyncio.Event, patients: int | None = None) -> None:
        done = 0
        while not stop.is_set() and (patients is None or done < patients):
            messages = self.plan.next_patient(self.name)
            if messages is None:
                return
            for send in messages:  # a started stay is carried to its end, even after stop
                await self.deliver(send)
                await asyncio.sleep(self.pause)
            done += 1

    async def deliver(self, send: AdtSend) -> str:
        self.sent.append(send)
        started = time.monotonic()
        attempt = 0
        while True:
            target = self.targets[self._turn % len(self.targets)]
            self._turn += 1
            attempt += 1
            written = [False]
            try:
                code = await self._exchange(target, send.message, written)
            except (OSError, TimeoutError, asyncio.IncompleteReadError):
                await self._close(target)
                if written[0]:
                    self.resends += 1
                else:
                    self.refusals += 1
                if attempt % len(self.targets) == 0:
                    await asyncio.sleep(0.2)  # every address tried: wait a little
                continue
            if self.sticky:
                self._turn -= 1  # stay on the instance that answered
            self.acked[send.control_id] = code
            self.latencies.append(time.monotonic() - started)
            return code

    async def _exchange(self, target: Instance, message: bytes, written: list[bool]) -> str:
        conn = self._conns.get(target.name)
        async with asyncio.timeout(self.timeout):
            if conn is None:
                conn = await open_hl7_connection("127.0.0.1", target.mllp_port)
                self._conns[target.name] = conn
            reader, writer = conn
            writer.writeblock(message)
            written[0] = True
            await writer.drain()
            ack: bytes = await reader.readblock()
        return ack_code(ack)

    async def _close(self, target: Instance) -> None:
        conn = self._conns.pop(target.name, None)
        if conn is not None:
            conn[1].close()

    async def close(self) -> None:
        for target in self.targets:
            await self._close(target)


@dataclass(frozen=True)
class Press:
    bed: WardBed
    press_id: str
    at: float

    @property
    def key(self) -> str:
        return f"{self.bed.terminal}:{self.press_id}"


class NurseCallButtons:
    """The nurse-call buttons of the terminals, as the contract has a terminal behave: a press
    is sent again (same ``press_id``) until its notice comes back (docs/bedside.md). One press
    per terminal: an open call on a bed absorbs the next press on it, by design."""

    def __init__(self, beds: list[WardBed], topic_root: str, resend_after: float = 2.0) -> None:
        self._beds = iter(beds)
        self.topic_root = topic_root
        self.resend_after = resend_after
        self.presses: list[Press] = []
        self.resends = 0
        self._noticed: set[str] = set()
        self._labels: dict[str, str] = {}
        self._client: aiomqtt.Client | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> NurseCallButtons:
        self._client = aiomqtt.Client(MQTT_HOST, MQTT_PORT, identifier=f"hw-{uuid.uuid4().hex[:8]}")
        await self._client.__aenter__()
        await self._client.subscribe(f"{self.topic_root}/terminal/+/notify", qos=1)
        self._tasks.add(asyncio.create_task(self._notices()))
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        assert self._client is not None
        await self._client.__aexit__(None, None, None)

    async def _notices(self) -> None:
        assert self._client is not None
        async for message in self._client.messages:
            with contextlib.suppress(ValueError):
                notice = json.loads(bytes(message.payload))  # type: ignore[arg-type]
                terminal = str(message.topic).split("/")[-2]
                # A ward's terminals hear of its calls: only the bed's own call counts.
                if notice.get("type") == "nurse_call" and notice.get(
                    "bed_label"
                ) == self._labels.get(terminal):
                    self._noticed.add(terminal)

    async def press(self) -> Press | None:
        bed = next(self._beds, None)
        if bed is None:
            return None
        press = Press(bed, uuid.uuid4().hex[:16], time.monotonic())
        self._labels[bed.terminal] = bed.label
        await self._send(press)
        self.presses.append(press)
        task = asyncio.create_task(self._until_noticed(press))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return press

    async def _send(self, press: Press) -> None:
        assert self._client is not None
        payload = NurseCallPressed(source="button", press_id=press.press_id).to_bytes()
        topic = f"{self.topic_root}/terminal/{press.bed.terminal}/event"
        await self._client.publish(topic, payload, qos=1)

    async def _until_noticed(self, press: Press) -> None:
        while True:
            await asyncio.sleep(self.resend_after)
            if press.bed.terminal in self._noticed:
                return
            self.resends += 1
            await self._send(press)


class RingRecorder:
    """Every nurse-call ring the PBX places: (nurse call id, station phone, when)."""

    def __init__(self, simulator: Any) -> None:
        self.rings: list[tuple[int, str, float]] = []
        self._pbx = simulator.pbx
        self._pbx.listeners.append(self._on_event)

    def _on_event(self, name: str, headers: list[tuple[str, str]], privilege: str) -> None:
        if name != "DialBegin":
            return
        uid = dict(headers).get("Uniqueid", "")
        channel = self._pbx.channels.get(uid)
        if channel is None or channel.context != RING_CONTEXT:
            return
        with contextlib.suppress(KeyError, ValueError):
            call = int(channel.variables["WL_NC_ID"])
            self.rings.append((call, channel.variables["WL_NC_STATION"], time.monotonic()))

    def rang(self, call_id: int, station: str) -> bool:
        return any(c == call_id and s == station for c, s, _ in self.rings)

    def first_ring(self, call_id: int) -> float | None:
        return min((t for c, _, t in self.rings if c == call_id), default=None)


class Console:
    """A switchboard console signed in on one instance, its live feed open; it reconnects
    (signing in again only if the session is gone) when the instance comes back."""

    def __init__(self, instance: Instance, topics: str = "nurse_calls,stays") -> None:
        self.instance, self.topics = instance, topics
        self.events: list[tuple[float, dict[str, Any]]] = []
        self.connected = asyncio.Event()
        self.connects = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def saw(self, bed_label: str, since: float) -> bool:
        """A live event (not a snapshot on connecting) naming the bed, since ``since``."""
        quoted = json.dumps(bed_label)
        return any(
            at >= since and e.get("topic") != "snapshot" and quoted in json.dumps(e)
            for at, e in self.events
        )

    async def _run(self) -> None:
        base = self.instance.base_url
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(cookie_jar=jar) as http:
            while True:
                with contextlib.suppress(
                    aiohttp.ClientError, OSError, TimeoutError, ValueError, KeyError
                ):
                    await self._session(http, base)
                self.connected.clear()
                await asyncio.sleep(0.2)

    async def _session(self, http: aiohttp.ClientSession, base: str) -> None:
        async with http.get(f"{base}/api/v1/session") as r:
            state = await r.json()
        if not state.get("user"):
            body = {"username": CONSOLE_USER, "password": CONSOLE_PASSWORD}
            headers = {"X-CSRF-Token": state["csrf_token"]}
            async with http.post(f"{base}/api/v1/session", json=body, headers=headers) as r:
                assert r.status == 200, await r.text()
        url = base.replace("http", "ws") + f"/ws?topics={self.topics}"
        async with http.ws_connect(url, heartbeat=2.0) as ws:
            self.connects += 1
            async for message in ws:
                if message.type != aiohttp.WSMsgType.TEXT:
                    break
                event = json.loads(message.data)
                if event.get("topic") == "snapshot":
                    self.connected.set()
                self.events.append((time.monotonic(), event))


def now() -> float:
    return time.monotonic()


Clock = Callable[[], float]
