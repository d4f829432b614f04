"""A test MLLP sender speaking real MLLP over TCP (python-hl7's asyncio streams)."""

from __future__ import annotations

import hl7
from hl7.mllp import open_hl7_connection


class Sender:
    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: object = None
        self.writer: object = None

    async def __aenter__(self) -> Sender:
        self.reader, self.writer = await open_hl7_connection("127.0.0.1", self.port)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.writer.close()  # type: ignore[attr-defined]

    async def send_raw(self, frame: bytes) -> hl7.Message:
        """Write bytes as they are (framing included) and read one acknowledgement."""
        self.writer.write(frame)  # type: ignore[attr-defined]
        await self.writer.drain()  # type: ignore[attr-defined]
        block: bytes = await self.reader.readblock()  # type: ignore[attr-defined]
        return hl7.parse(block.decode("latin-1"))

    async def send(self, message: bytes) -> hl7.Message:
        return await self.send_raw(b"\x0b" + message + b"\x1c\r")


def ack_code(ack: hl7.Message) -> str:
    return str(ack.segment("MSA")(1))
