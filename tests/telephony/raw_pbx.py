"""A minimal AMI server for failure tests: it logs in, answers the resync lists with empty
lists, records every action, and can stay silent, hang up, or send arbitrary bytes."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from telephony.ami.frames import FrameDecoder

LISTS = {
    "coreshowchannels": "CoreShowChannelsComplete",
    "devicestatelist": "DeviceStateListComplete",
    "queuestatus": "QueueStatusComplete",
    "pjsipshowcontacts": "ContactListComplete",
    "parkedcalls": "ParkedCallsComplete",
}


@dataclass
class RawPbx:
    silent: set[str] = field(default_factory=set)
    """Actions (lower case) never answered."""
    drop_on: set[str] = field(default_factory=set)
    """Actions (lower case) on which the connection is closed without an answer."""
    received: list[list[str]] = field(default_factory=list)
    """Per connection, the names of the actions received."""
    writers: list[asyncio.StreamWriter] = field(default_factory=list)
    server: asyncio.Server | None = None

    async def start(self) -> RawPbx:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        for writer in self.writers:
            writer.close()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def send_raw(self, data: bytes) -> None:
        writer = self.writers[-1]
        writer.write(data)
        await writer.drain()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.append(writer)
        names: list[str] = []
        self.received.append(names)
        decoder = FrameDecoder(actions=True)
        writer.write(b"Asterisk Call Manager/11.0.0\r\n")
        try:
            while data := await reader.read(65536):
                for action in decoder.feed(data):
                    name = action.name.lower()
                    names.append(name)
                    aid = action.action_id
                    if name in self.drop_on:
                        writer.close()
                        return
                    if name in self.silent:
                        continue
                    if name in LISTS:
                        writer.write(
                            f"Response: Success\r\nActionID: {aid}\r\nEventList: start\r\n"
                            f"Message: will follow\r\n\r\nEvent: {LISTS[name]}\r\n"
                            f"ActionID: {aid}\r\nEventList: Complete\r\n"
                            "ListItems: 0\r\n\r\n".encode()
                        )
                    elif name == "originate" and action.get("Async").lower() != "true":
                        writer.write(
                            f"Response: Success\r\nActionID: {aid}\r\n"
                            f"Message: Originate successfully queued\r\n\r\n".encode()
                        )
                    else:
                        writer.write(
                            f"Response: Success\r\nActionID: {aid}\r\nMessage: ok\r\n\r\n".encode()
                        )
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()
