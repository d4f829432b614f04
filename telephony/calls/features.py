"""Queue, parking and transfer events of the call state (a part of :class:`CallState`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from telephony.ami.frames import AmiMessage
from telephony.calls.model import (
    Call,
    ParkedCall,
    QueueCaller,
    clean,
    extension_of_channel,
    now,
    phone_of_channel,
)
from wardline.domain.call_events import (
    CallParked,
    CallQueued,
    CallTransferred,
    CallUnparked,
    QueueChanged,
)
from wardline.domain.events import DomainEvent


class CallFeatures:
    """Handlers of QueueCaller*, (Un)ParkedCall*, BlindTransfer and AttendedTransfer."""

    publish: Callable[[DomainEvent], None]
    calls: dict[str, Call]
    queues: dict[str, dict[str, QueueCaller]]
    parked: dict[str, ParkedCall]
    claims: dict[str, str]
    bridge_names: dict[str, list[str]]

    # --- queues -----------------------------------------------------------------------------
    def _queue_changed(self, name: str, abandoned: str | None = None) -> None:
        queue = self.queues.get(name, {})
        waiting = tuple(c.call_id for c in sorted(queue.values(), key=lambda c: c.position))
        self.publish(QueueChanged(queue=name, waiting=waiting, abandoned=abandoned))

    def _queuejoin(self, frame: AmiMessage) -> None:
        name, uniqueid = frame.get("Queue"), frame.get("Uniqueid")
        call_id = frame.get("Linkedid") or uniqueid
        position = int(frame.get("Position") or 0)
        self.queues.setdefault(name, {})[uniqueid] = QueueCaller(uniqueid, call_id, position, now())
        call = self.calls.get(call_id)
        if call is not None:
            call.queue = name
            self.publish(
                CallQueued(
                    call_id=call_id, queue=name, caller_number=call.caller_number, position=position
                )
            )
        self._queue_changed(name)

    def _queueleave(self, frame: AmiMessage, abandoned: bool = False) -> None:
        name, uniqueid = frame.get("Queue"), frame.get("Uniqueid")
        caller = self.queues.get(name, {}).pop(uniqueid, None)
        if caller is None:
            return
        for other in self.queues[name].values():
            if other.position > caller.position:
                other.position -= 1
        call = self.calls.get(caller.call_id)
        if call is not None:
            call.queue = None
            call.abandoned = call.abandoned or abandoned
        self._queue_changed(name, caller.call_id if abandoned else None)

    def _queueabandon(self, frame: AmiMessage) -> None:
        self._queueleave(frame, abandoned=True)

    # --- parking ----------------------------------------------------------------------------
    def _parked(self, frame: AmiMessage) -> None:
        if frame.action_id:
            return  # a ParkedCalls list item outside a resync
        space = frame.get("ParkingSpace")
        call_id = frame.get("ParkeeLinkedid") or frame.get("ParkeeUniqueid")
        timeout = int(frame.get("ParkingTimeout") or 0)
        self.parked[space] = ParkedCall(
            space, frame.get("ParkeeUniqueid"), call_id, frame.get("Parkinglot"), timeout, now()
        )
        call = self.calls.get(call_id)
        self.claims.pop(call_id, None)  # a parked call is anyone's to pick up
        if call is not None:
            call.parked_space = space
            call.handled_by = None
        self.publish(CallParked(call_id=call_id, space=space, timeout_seconds=timeout))

    def _unparked(self, frame: AmiMessage) -> None:
        space = frame.get("ParkingSpace")
        parked = self.parked.pop(space, None)
        if parked is None:
            return
        call = self.calls.get(parked.call_id)
        if call is not None:
            call.parked_space = None
        by = phone_of_channel(frame.get("RetrieverChannel")) or ""
        self.publish(
            CallUnparked(
                call_id=parked.call_id,
                space=space,
                by_extension=by,
                timed_out=frame.name != "UnParkedCall",
            )
        )

    # --- transfers --------------------------------------------------------------------------
    def _transferred(self, call_id: str, kind: Any, to: str, by: str) -> None:
        call = self.calls.get(call_id)
        if call is None:
            return
        call.transferred = True
        self.publish(CallTransferred(call_id=call_id, kind=kind, to_extension=to, by_extension=by))

    def _blindtransfer(self, frame: AmiMessage) -> None:
        if frame.get("Result") != "Success":
            return
        by = phone_of_channel(frame.get("TransfererChannel")) or ""
        self._transferred(frame.get("TransfereeLinkedid"), "blind", frame.get("Extension"), by)

    def _attendedtransfer(self, frame: AmiMessage) -> None:
        if frame.get("Result") != "Success":
            return
        by = phone_of_channel(frame.get("OrigTransfererChannel")) or ""
        target = extension_of_channel(frame.get("TransferTargetChannel"))
        if target is None:  # Asterisk 22: the target is the other side of the second bridge
            # (it has left that bridge by now: the names seen in it are kept a while)
            seen = self.bridge_names.get(frame.get("SecondBridgeUniqueid"), [])
            transferer = frame.get("SecondTransfererChannel")
            for name in seen:
                if name != transferer:
                    target = target or extension_of_channel(name)
        to = target or clean(frame.get("TransferTargetCallerIDNum"))
        self._transferred(frame.get("TransfereeLinkedid"), "attended", to, by)
