"""A simulated bedside terminal: announces itself (``online`` status, retained, with an
``offline`` last will), prints the config, context and notices it receives, and sends events
from a script or from standard input.

Commands: ``call`` (nurse-call button), ``cord`` (pull cord), ``badge BADGE_ID``,
``menu ACTION [VALUE]``, ``wait SECONDS``, ``quit``.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import TextIO

from bedside import contract
from bedside.errors import BedsideError
from bedside.mqtt_link import BrokerAddress, LastWill, MqttLink
from bedside.topics import Topics

OFFLINE = contract.TerminalStatus(state="offline").to_bytes()


def describe(channel: str, payload: bytes) -> str:
    """One printable line for a received message (the terminal's own screen)."""
    try:
        if channel == "context":
            ctx = contract.parse_context(payload)
            if ctx is None:
                return "context: (no patient)"
            return (
                f"context: welcome {ctx.greeting_name!r}, bed {ctx.bed_label}, room {ctx.room}, "
                f"phone {ctx.phone.number or '-'} ({ctx.phone.state}), language {ctx.language}, "
                f"meals {ctx.meal_ordering}"
            )
        if channel == "config":
            cfg = contract.parse_config(payload)
            return (
                f"config: bed {cfg.bed_label or '-'}, ward {cfg.ward_code or '-'}, "
                f"{len(cfg.channels)} channels, kiosk {cfg.kiosk_url}"
            )
        if channel == "notify":
            return f"notify: {contract.parse_notice(payload).model_dump_json(exclude={'v'})}"
    except BedsideError as exc:
        return f"{channel}: refused ({exc.error_id})"
    return f"{channel}: {len(payload)} bytes"


def event_for(command: str) -> bytes | None:
    """The event payload of a command line, or None for a non-event command."""
    words = command.split()
    if not words:
        return None
    verb, args = words[0], words[1:]
    press = uuid.uuid4().hex[:16]
    event: contract.Payload
    if verb in {"call", "cord"}:
        source = "button" if verb == "call" else "pull_cord"
        event = contract.NurseCallPressed(source=source, press_id=press)
    elif verb == "badge" and args:
        event = contract.BadgeTap(badge_id=args[0])
    elif verb == "menu" and args:
        event = contract.MenuAction.model_validate(
            {"action": args[0], "value": " ".join(args[1:]) or None}
        )
    else:
        return None
    return event.to_bytes()


async def run_terminal(
    address: BrokerAddress,
    terminal_id: str,
    *,
    topics: Topics,
    script: Sequence[str] = (),
    stdin: bool = False,
    duration: float | None = None,
    firmware: str = "wardline-sim 1.0",
    out: TextIO | None = None,
) -> int:
    screen = out or sys.stdout
    received = asyncio.Event()

    def on_message(topic: str, payload: bytes, retained: bool) -> None:
        print(describe(topics.parse(topic).channel, payload), file=screen, flush=True)
        received.set()

    link = MqttLink(
        address,
        client_id=terminal_id,  # the broker binds the client id to the account anyway
        subscriptions=[topics.config(terminal_id), topics.context(terminal_id),
                       topics.notify(terminal_id)],
        on_message=on_message,
        will=LastWill(topics.status(terminal_id), OFFLINE),
        window=16,
    )  # fmt: skip
    await link.start()
    try:
        await link.wait_connected()
        online = contract.TerminalStatus(state="online", firmware=firmware, model="simulator")
        await link.publish(topics.status(terminal_id), online.to_bytes(), retain=True)
        print(f"terminal {terminal_id}: online on {address.describe()}", file=screen, flush=True)
        for line in script:
            if not await _run_command(link, topics, terminal_id, line, screen):
                return 0
        if stdin:
            async for line in _stdin_lines():
                if not await _run_command(link, topics, terminal_id, line, screen):
                    return 0
        if duration is not None:
            await asyncio.sleep(duration)
        return 0
    finally:
        with contextlib.suppress(BedsideError):
            await link.publish(topics.status(terminal_id), OFFLINE, retain=True)
        await link.stop()


async def _run_command(
    link: MqttLink, topics: Topics, terminal_id: str, line: str, out: TextIO
) -> bool:
    line = line.strip()
    if not line or line.startswith("#"):
        return True
    if line == "quit":
        return False
    if line.startswith("wait"):
        await asyncio.sleep(float(line.split()[1]) if len(line.split()) > 1 else 1.0)
        return True
    payload = event_for(line)
    if payload is None:
        print(f"unknown command: {line.split()[0]}", file=out, flush=True)
        return True
    await link.publish(topics.event(terminal_id), payload)
    print(f"sent: {line.split()[0]}", file=out, flush=True)
    return True


async def _stdin_lines() -> AsyncIterator[str]:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    try:
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    except (ValueError, OSError):  # a regular file: read it whole
        for line in await asyncio.to_thread(sys.stdin.readlines):
            yield line
        return
    while line := await reader.readline():
        yield line.decode(errors="replace")
