"""The HL7 v2 ADT listener: MLLP over TCP (python-hl7's asyncio streams).

Each connection reads one MLLP block at a time, hands the raw bytes to the
:class:`~ehr_bridge.adt_processing.AdtProcessor` (persist, apply, ACK) and writes the ACK
back. A block without its start character is answered AR. At start-up, messages persisted
but never processed (a crash between receipt and processing) are applied first, once.
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog
from hl7.mllp import InvalidBlockError, start_hl7_server

from ehr_bridge.adt_processing import AdtProcessor
from ehr_bridge.hl7_ack import INTERNAL_ERROR, REQUIRED_FIELD_MISSING, AckError, build_ack
from ehr_bridge.hl7_fields import header_of
from wardline.errors import StorageError

log = structlog.get_logger(__name__)

MAX_MESSAGE_BYTES = 1024 * 1024


class AdtListener:
    def __init__(self, processor: AdtProcessor, host: str = "127.0.0.1", port: int = 2575) -> None:
        self.processor = processor
        self.host, self.requested_port = host, port
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self.port: int | None = None

    @property
    def running(self) -> bool:
        return self._server is not None

    async def start(self, *, recover: bool = True) -> None:
        if recover:
            await self.processor.recover()
        server: asyncio.Server = await start_hl7_server(
            self._connected, self.host, self.requested_port, limit=MAX_MESSAGE_BYTES
        )
        self._server = server
        sockets = server.sockets
        self.port = sockets[0].getsockname()[1] if sockets else self.requested_port
        log.info("adt.listening", host=self.host, port=self.port)

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for task in list(self._connections):
            task.cancel()
        for task in list(self._connections):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.processor.close()
        if server is not None:
            await server.wait_closed()
        log.info("adt.stopped")

    def _connected(self, reader: object, writer: object) -> None:
        task = asyncio.get_running_loop().create_task(self._serve(reader, writer))
        self._connections.add(task)
        task.add_done_callback(self._connection_done)

    def _connection_done(self, task: asyncio.Task[None]) -> None:
        self._connections.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("adt.connection_failed", error=type(task.exception()).__name__)

    async def _serve(self, reader: object, writer: object) -> None:
        peer = getattr(writer, "get_extra_info", lambda _n: None)("peername")
        log.info("adt.connected", peer=str(peer))
        try:
            while True:
                try:
                    block: bytes = await reader.readblock()  # type: ignore[attr-defined]
                except asyncio.IncompleteReadError:
                    return  # the peer closed (possibly mid-block: nothing to acknowledge)
                except InvalidBlockError:
                    ack = build_ack(None, "AR", _framing_error("no MLLP start block"))
                    await self._write(writer, ack.encode("ascii"))
                    continue
                except ValueError:
                    ack = build_ack(None, "AR", _framing_error("message too large"))
                    await self._write(writer, ack.encode("ascii"))
                    continue
                try:
                    ack_bytes = await self.processor.receive(block)
                except StorageError as exc:
                    # Not persisted or not applied: no acknowledgement, the sender sends it
                    # again (the connection is closed, as after any failure of the peer).
                    log.error("adt.storage_unavailable", error_id=exc.error_id)
                    return
                except Exception:
                    # A failure of ours on this message: answered AE, never a silent close
                    # that the sender would meet again on every retry.
                    log.exception("adt.receive_failed")
                    ack = build_ack(header_of(block, "latin-1"), "AE", _internal_error())
                    await self._write(writer, ack.encode("latin-1", errors="replace"))
                    continue
                await self._write(writer, ack_bytes)
        finally:
            writer.close()  # type: ignore[attr-defined]

    @staticmethod
    async def _write(writer: object, data: bytes) -> None:
        writer.writeblock(data)  # type: ignore[attr-defined]
        await writer.drain()  # type: ignore[attr-defined]


def _internal_error() -> AckError:
    return AckError(code=INTERNAL_ERROR, text="internal error", error_id="adt.internal")


def _framing_error(text: str) -> AckError:
    return AckError(code=REQUIRED_FIELD_MISSING, text=text, error_id="mllp.framing")
