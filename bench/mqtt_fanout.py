"""Fan-out of the patient context: 2,000 terminals' context at QoS 1, retained, waiting for
every PUBACK - Wardline's link (aiomqtt on the asyncio loop, bounded in-flight window) next to
plain paho-mqtt (its own network thread), same messages, same broker, same run.

    python bench/mqtt_fanout.py [--url mqtt://127.0.0.1:1883] [--terminals 2000] [--json]

Prints messages/s and total time of each, and the ratio (Wardline / paho; >= 1.0 is as fast)
against paho as shipped (``max_inflight_messages`` 20) and against paho with no in-flight limit
(its fastest setting; its network thread overlaps the publishing thread on a second core).
With --json the last line is one JSON object. Retained messages are erased afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import threading
import time
import uuid
from datetime import UTC, datetime

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from bedside.contract import PatientContext, PhoneLine, Services
from bedside.mqtt_link import MqttLink, parse_mqtt_url
from bedside.topics import Topics


def contexts(topics: Topics, count: int) -> list[tuple[str, bytes, bool]]:
    now = datetime.now(UTC)
    out = []
    for i in range(count):
        ctx = PatientContext(
            greeting_name=f"Patient {i}", language="fr", room=f"{100 + i // 2}",
            bed_label=f"W-{100 + i // 2}-{'AB'[i % 2]}",
            phone=PhoneLine(number=f"0388{i:06d}", state="active"),
            services=Services(tv=True, phone=True, meals=True), meal_ordering="open",
            on_leave=False, updated_at=now,
        )  # fmt: skip
        out.append((topics.context(f"T-{i}"), ctx.to_bytes(), True))
    return out


async def wardline_round(link: MqttLink, messages: list[tuple[str, bytes, bool]]) -> float:
    start = time.perf_counter()
    await link.publish_many(messages)
    return time.perf_counter() - start


def paho_round(url: str, messages: list[tuple[str, bytes, bool]], window: int) -> float:
    addr = parse_mqtt_url(url)
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-paho-{uuid.uuid4().hex}")
    if addr.username:
        client.username_pw_set(addr.username, addr.password)
    if addr.tls:
        client.tls_set()
    client.max_inflight_messages_set(window)
    client.max_queued_messages_set(0)
    acked = 0
    done = threading.Event()
    connected = threading.Event()
    lock = threading.Lock()

    def on_publish(*_: object) -> None:
        nonlocal acked
        with lock:
            acked += 1
            if acked == len(messages):
                done.set()

    client.on_publish = on_publish
    client.on_connect = lambda *_: connected.set()
    client.connect(addr.host, addr.port)
    client.loop_start()
    try:
        if not connected.wait(10):
            raise SystemExit("paho: broker not reachable")
        start = time.perf_counter()
        for topic, payload, retain in messages:
            client.publish(topic, payload, qos=1, retain=retain)
        if not done.wait(60):
            raise SystemExit(f"paho: only {acked} of {len(messages)} acknowledged")
        return time.perf_counter() - start
    finally:
        client.disconnect()
        client.loop_stop()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="mqtt://127.0.0.1:1883")
    parser.add_argument("--terminals", type=int, default=2000)
    parser.add_argument("--window", type=int, default=256, help="QoS 1 in-flight window")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    topics = Topics(root=f"bench/{uuid.uuid4().hex[:8]}/v1")
    messages = contexts(topics, args.terminals)
    link = MqttLink(parse_mqtt_url(args.url), client_id=f"bench-{uuid.uuid4().hex[:8]}",
                    window=args.window)  # fmt: skip
    await link.start()
    ours: list[float] = []
    theirs: list[float] = []  # paho as shipped: max_inflight_messages 20
    unbounded: list[float] = []  # paho tuned: no in-flight limit
    try:
        await link.wait_connected()
        await wardline_round(link, messages[: min(200, len(messages))])  # warm-up
        for _ in range(args.rounds):  # alternate so both see the same broker state
            ours.append(await wardline_round(link, messages))
            theirs.append(await asyncio.to_thread(paho_round, args.url, messages, 20))
            unbounded.append(await asyncio.to_thread(paho_round, args.url, messages, 0))
        await link.publish_many([(t, b"", True) for t, _, _ in messages])  # erase
    finally:
        await link.stop()

    n = len(messages)
    w, p = statistics.median(ours), statistics.median(theirs)
    u = statistics.median(unbounded)
    result = {
        "terminals": n,
        "window": args.window,
        "rounds": args.rounds,
        "wardline_seconds": round(w, 4),
        "wardline_msgs_per_s": round(n / w),
        "paho_seconds": round(p, 4),
        "paho_msgs_per_s": round(n / p),
        "paho_unbounded_seconds": round(u, 4),
        "paho_unbounded_msgs_per_s": round(n / u),
        "ratio": round(p / w, 2),
        "ratio_vs_paho_unbounded": round(u / w, 2),
    }
    print(f"context fan-out, {n} terminals, QoS 1 retained, every PUBACK awaited "
          f"(median of {args.rounds}, window {args.window})")  # fmt: skip
    print(f"  wardline (aiomqtt, asyncio): {w:.3f} s  {n / w:8.0f} msg/s")
    print(f"  plain paho (own thread):     {p:.3f} s  {n / p:8.0f} msg/s  (in-flight 20)")
    print(f"  paho, no in-flight limit:    {u:.3f} s  {n / u:8.0f} msg/s")
    print(f"  ratio wardline/paho: {result['ratio']} "
          f"(vs unbounded paho: {result['ratio_vs_paho_unbounded']})")  # fmt: skip
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
