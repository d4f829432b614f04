"""The switchboard snapshot as plain JSON (the ``wardline pbx snapshot`` output)."""

from __future__ import annotations

from typing import Any

from wardline.domain.switchboard_port import SwitchboardSnapshot


def snapshot_json(snapshot: SwitchboardSnapshot) -> dict[str, Any]:
    return {
        "calls": [
            {
                "call_id": call.call_id,
                "phase": call.phase,
                "caller_number": call.caller_number,
                "caller_name": call.caller_name,
                "called_extension": call.called_extension,
                "extensions": list(call.extensions),
                "started_at": call.started_at.isoformat(),
                "answered_at": call.answered_at.isoformat() if call.answered_at else None,
                "queue": call.queue,
                "queue_position": call.queue_position,
                "queued_since": call.queued_since.isoformat() if call.queued_since else None,
                "parked_space": call.parked_space,
                "handled_by": call.handled_by,
            }
            for call in snapshot.calls
        ],
        "phones": dict(snapshot.phones),
        "queues": {name: list(waiting) for name, waiting in snapshot.queues.items()},
        "parked": dict(snapshot.parked),
    }
