"""A TCP server that replays a real Asterisk capture to one AMI client, in random chunks.

It sends the banner, reads the client's Login, answers it with the capture's own login answer
(the ActionID swapped for the client's), then the rest of the capture, cut at random byte
boundaries, each piece flushed on its own. Real protocol, real socket; no mock.
"""

from __future__ import annotations

import asyncio
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

CAPTURES = Path(__file__).parent / "captures"
_LOGIN_ID = re.compile(rb"ActionID: login-1\r\n")


@dataclass
class Replay:
    data: bytes
    seed: int = 0
    max_piece: int = 200
    close_after: bool = False
    sent: asyncio.Event = field(default_factory=asyncio.Event)
    connections: int = 0
    server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    async def start(self) -> Replay:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        rng = random.Random(self.seed + self.connections)
        banner, _, rest = self.data.partition(b"\r\n")
        try:
            writer.write(banner + b"\r\n")
            login = await reader.readuntil(b"\r\n\r\n")
            match = re.search(rb"ActionID: ([^\r\n]*)", login)
            action_id = match.group(1) if match else b""
            body = _LOGIN_ID.sub(b"ActionID: " + action_id + b"\r\n", rest, count=1)
            pos = 0
            while pos < len(body):
                step = rng.randint(1, self.max_piece)
                writer.write(body[pos : pos + step])
                await writer.drain()
                pos += step
                if rng.random() < 0.05:
                    await asyncio.sleep(0)
            self.sent.set()
            if self.close_after:
                writer.close()
                return
            while await reader.read(4096):
                pass  # keep the session open, ignore further actions
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


def capture(name: str) -> bytes:
    return (CAPTURES / name).read_bytes()
