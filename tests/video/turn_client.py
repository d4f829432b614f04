"""A small TURN client (RFC 5766 Allocate over UDP with the long-term credential mechanism of
RFC 5389) to ask a real coturn whether it accepts a credential. Message building and parsing
are pure functions; :func:`allocate` does the two round trips."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import struct
from dataclasses import dataclass, field

MAGIC = 0x2112A442
ALLOCATE = 0x0003
ALLOCATE_OK = 0x0103
ALLOCATE_ERROR = 0x0113
USERNAME, MESSAGE_INTEGRITY, ERROR_CODE, REALM, NONCE = 0x0006, 0x0008, 0x0009, 0x0014, 0x0015
XOR_RELAYED_ADDRESS, REQUESTED_TRANSPORT = 0x0016, 0x0019
UDP = 17


@dataclass
class Answer:
    kind: int
    attributes: dict[int, bytes] = field(default_factory=dict)

    @property
    def error(self) -> int | None:
        value = self.attributes.get(ERROR_CODE)
        return None if value is None else (value[2] & 0x7) * 100 + value[3]

    def relayed(self) -> tuple[str, int] | None:
        value = self.attributes.get(XOR_RELAYED_ADDRESS)
        if value is None:
            return None
        port = struct.unpack("!H", value[2:4])[0] ^ (MAGIC >> 16)
        raw = struct.unpack("!I", value[4:8])[0] ^ MAGIC
        return ".".join(str((raw >> s) & 0xFF) for s in (24, 16, 8, 0)), port


def _attribute(kind: int, value: bytes) -> bytes:
    pad = (4 - len(value) % 4) % 4
    return struct.pack("!HH", kind, len(value)) + value + b"\0" * pad


def request(
    transaction: bytes,
    attributes: list[tuple[int, bytes]],
    key: bytes | None = None,
) -> bytes:
    body = b"".join(_attribute(k, v) for k, v in attributes)
    if key is None:
        return struct.pack("!HHI", ALLOCATE, len(body), MAGIC) + transaction + body
    # MESSAGE-INTEGRITY covers the header with the length including itself (24 bytes)
    header = struct.pack("!HHI", ALLOCATE, len(body) + 24, MAGIC) + transaction
    mac = hmac.new(key, header + body, hashlib.sha1).digest()
    return header + body + _attribute(MESSAGE_INTEGRITY, mac)


def parse(data: bytes) -> Answer:
    kind, length, magic = struct.unpack("!HHI", data[:8])
    if magic != MAGIC or len(data) < 20 + length:
        raise ValueError("not a STUN message")
    answer, offset = Answer(kind), 20
    while offset + 4 <= 20 + length:
        attr, size = struct.unpack("!HH", data[offset : offset + 4])
        answer.attributes.setdefault(attr, data[offset + 4 : offset + 4 + size])
        offset += 4 + size + (4 - size % 4) % 4
    return answer


def long_term_key(username: str, realm: str, password: str) -> bytes:
    return hashlib.md5(f"{username}:{realm}:{password}".encode()).digest()


class _Client(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.answers: asyncio.Queue[bytes] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.answers.put_nowait(data)


async def allocate(host: str, port: int, username: str, password: str) -> Answer:
    """Allocate a relay: the first request is refused with a realm and nonce (401), the second
    carries the credential. The answer to the second (or the first, if not a 401)."""
    loop = asyncio.get_running_loop()
    transport, client = await loop.create_datagram_endpoint(_Client, remote_addr=(host, port))
    try:
        transport_attr = (REQUESTED_TRANSPORT, bytes([UDP, 0, 0, 0]))

        async def exchange(message: bytes) -> Answer:
            for _ in range(5):  # UDP: send again when nothing comes back
                transport.sendto(message)
                try:
                    return parse(await asyncio.wait_for(client.answers.get(), 1.0))
                except TimeoutError:
                    continue
            raise TimeoutError("coturn did not answer")

        first = await exchange(request(secrets.token_bytes(12), [transport_attr]))
        if first.error != 401:
            return first
        realm, nonce = first.attributes[REALM], first.attributes[NONCE]
        key = long_term_key(username, realm.decode(), password)
        attrs = [transport_attr, (USERNAME, username.encode()), (REALM, realm), (NONCE, nonce)]
        return await exchange(request(secrets.token_bytes(12), attrs, key))
    finally:
        transport.close()
