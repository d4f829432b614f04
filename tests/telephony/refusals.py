"""What a real Asterisk 22 does with a switchboard action into a context or extension the
generated dialplan does not have, recorded by test_real_pbx_refusals.py into
``captures/real_refused_*.ami`` and compared with the simulator by
test_simulator_refusals.py: the actions sent, and the part of the answer both must agree on."""

from __future__ import annotations

import asyncio
import contextlib
import re

from telephony.ami.frames import AmiMessage, parse_stream
from tests.telephony.real_pbx import RawAmi

OPERATOR, BED = "9000", "2001"
UNKNOWN_EXTEN = "99999"
OLD_CONTEXT = "hospital"
"""The context the switchboard used before issue 21: the generated dialplan has none."""

FLOWS: dict[str, list[tuple[str, str, dict[str, str]]]] = {
    # (action id, action, fields; {bed} and {operator} are the channels of the answered call)
    "redirect": [
        (
            "refused-redirect",
            "Redirect",
            {"Channel": "{bed}", "Context": "from-staff", "Exten": UNKNOWN_EXTEN, "Priority": "1"},
        ),
    ],
    "redirect_old_context": [
        (
            "refused-redirect",
            "Redirect",
            {"Channel": "{bed}", "Context": OLD_CONTEXT, "Exten": OPERATOR, "Priority": "1"},
        ),
    ],
    "blind_transfer": [
        (
            "refused-blind",
            "BlindTransfer",
            {"Channel": "{operator}", "Context": "from-staff", "Exten": UNKNOWN_EXTEN},
        ),
    ],
    "attended_transfer": [
        (
            "refused-atxfer",
            "Atxfer",
            {"Channel": "{operator}", "Context": "from-staff", "Exten": UNKNOWN_EXTEN},
        ),
        (
            "refused-atxfer-old",
            "Atxfer",
            {"Channel": "{operator}", "Context": OLD_CONTEXT, "Exten": "2002"},
        ),
    ],
    "originate": [
        (
            "refused-originate",
            "Originate",
            {
                "Channel": f"PJSIP/{OPERATOR}",
                "Context": OLD_CONTEXT,
                "Exten": "2002",
                "Priority": "1",
                "Async": "true",
            },
        ),
        (
            "refused-originate-exten",
            "Originate",
            {
                "Channel": f"PJSIP/{OPERATOR}",
                "Context": "from-staff",
                "Exten": UNKNOWN_EXTEN,
                "Priority": "1",
                "Async": "true",
            },
        ),
        (
            "refused-gone",
            "Redirect",
            {
                "Channel": "PJSIP/9000-0000ffff",
                "Context": "from-staff",
                "Exten": "2002",
                "Priority": "1",
            },
        ),
        (
            "refused-gone-blind",
            "BlindTransfer",
            {"Channel": "PJSIP/9000-0000ffff", "Context": "from-staff", "Exten": "2002"},
        ),
        (
            "refused-gone-atxfer",
            "Atxfer",
            {"Channel": "PJSIP/9000-0000ffff", "Context": "from-staff", "Exten": "2002"},
        ),
        ("refused-gone-hangup", "Hangup", {"Channel": "PJSIP/9000-0000ffff"}),
        ("refused-gone-park", "Park", {"Channel": "PJSIP/9000-0000ffff"}),
    ],
}
"""Each flow starts from a call of the bed to the switchboard answered by the operator."""

WATCHED = {
    "SoftHangupRequest", "Hangup", "BlindTransfer", "AttendedTransfer", "Hold", "Unhold",
    "MusicOnHoldStart", "MusicOnHoldStop",
}  # fmt: skip
_PHONE = re.compile(r"^PJSIP/(\d+)-")


def role(channel: str) -> str:
    found = _PHONE.match(channel)
    if found is None:
        return channel.split("/")[0]
    return {BED: "bed", OPERATOR: "operator"}.get(found.group(1), "other")


def outcome(messages: list[AmiMessage]) -> list[tuple[str, ...]]:
    """What both PBXs must agree on, from the first refused action on: each answer (its
    ActionID, Response and Message) and each watched event (who, cause, result)."""
    out: list[tuple[str, ...]] = []
    started = False
    for m in messages:
        if m.kind == "response" and m.action_id.startswith("refused-"):
            started = True
            out.append(("answer", m.action_id, m.get("Response"), m.get("Message")))
        elif started and m.kind == "event" and m.name in WATCHED:
            who = m.get("Channel") or m.get("TransfereeChannel")
            out.append(
                (
                    m.name,
                    role(who),
                    m.get("Cause"),
                    m.get("Result"),
                    role(m.get("TransfererChannel")),
                )
            )
        elif started and m.kind == "event" and m.name == "OriginateResponse":
            out.append(("OriginateResponse", m.action_id, m.get("Response")))
    return out


def outcome_of(raw: bytes) -> list[tuple[str, ...]]:
    return outcome(parse_stream(raw))


class Recorder(RawAmi):
    """An AMI session that reads in the background (every byte kept for the capture) and sends
    actions with the ActionIDs of :data:`FLOWS`."""

    def start(self) -> Recorder:
        self._task = asyncio.create_task(self._loop())
        return self

    async def _loop(self) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while True:
                await self._read()

    async def send(self, action_id: str, name: str, fields: dict[str, str]) -> AmiMessage:
        lines = [f"Action: {name}", f"ActionID: {action_id}"]
        lines += [f"{key}: {value}" for key, value in fields.items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        await self.writer.drain()
        async with asyncio.timeout(10):
            while True:
                for m in self.received:
                    if m.kind == "response" and m.action_id == action_id:
                        return m
                await asyncio.sleep(0.01)

    async def stop(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        await self.close()


async def run_flow(
    ami: Recorder, flow: str, bed: str, operator: str, pause: float = 2.0
) -> list[AmiMessage]:
    """Send a flow's actions (the call's channels filled in), ``pause`` apart; the answers."""
    answers = []
    for action_id, name, fields in FLOWS[flow]:
        filled = {k: v.format(bed=bed, operator=operator) for k, v in fields.items()}
        answers.append(await ami.send(action_id, name, filled))
        await asyncio.sleep(pause)
    return answers


def by_answer(seen: list[tuple[str, ...]]) -> list[tuple[tuple[str, ...], list[tuple[str, ...]]]]:
    """Each answer with the watched events that followed it, sorted (Asterisk's threads give
    the hangups of one action in an order that varies from run to run)."""
    out: list[tuple[tuple[str, ...], list[tuple[str, ...]]]] = []
    for item in seen:
        if item[0] == "answer":
            out.append((item, []))
        elif out:
            out[-1][1].append(item)
    return [(answer, sorted(events)) for answer, events in out]
