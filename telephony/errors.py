"""The exception family of the Asterisk border. Every error has a stable ``error_id``."""

from __future__ import annotations

from typing import Any

from wardline.errors import WardlineError


class PbxError(WardlineError):
    """Base of every expected telephony failure."""


class PbxUnreachable(PbxError):
    """No AMI session is up: the action was not sent and will never be sent later."""

    def __init__(self, message: str = "the PBX is unreachable", **details: Any) -> None:
        super().__init__("pbx.unreachable", message, **details)


class PbxLoginRefused(PbxError):
    """Asterisk refused the AMI user or secret."""

    def __init__(self, message: str = "the PBX refused the AMI login", **details: Any) -> None:
        super().__init__("pbx.login_refused", message, **details)


class PbxActionFailed(PbxError):
    """Asterisk answered an action with an error (its message is kept, no payload)."""

    def __init__(self, action: str, reason: str, **details: Any) -> None:
        super().__init__(
            "pbx.action_failed",
            f"{action} failed: {reason}",
            action=action,
            reason=reason,
            **details,
        )


class PbxTimeout(PbxError):
    """Asterisk did not answer an action in time."""

    def __init__(self, action: str, seconds: float, **details: Any) -> None:
        super().__init__(
            "pbx.timeout",
            f"{action}: no answer from the PBX within {seconds:g}s",
            action=action,
            seconds=seconds,
            **details,
        )


class CallConflict(PbxError):
    """Another operator is already acting on this call."""

    def __init__(self, call_id: str, holder: str, **details: Any) -> None:
        super().__init__(
            "pbx.call_conflict",
            "another operator is already handling this call",
            call_id=call_id,
            holder=holder,
            **details,
        )


class UnknownCall(PbxError):
    """The call (or parked call) is not, or no longer, known."""

    def __init__(self, call_id: str, **details: Any) -> None:
        super().__init__(
            "pbx.unknown_call", "this call no longer exists", call_id=call_id, **details
        )
