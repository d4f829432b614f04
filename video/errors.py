"""The video edge's errors, each with a stable id (docs/video.md lists them).

The families say what kind of refusal it is; the web middleware chooses the HTTP status from
them (and from the id for the few that differ)."""

from __future__ import annotations

from typing import Any

from wardline.domain.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from wardline.errors import Unavailable


class GatewayError(Unavailable):
    """Janus did not answer, or refused one of Wardline's own requests: nothing was changed
    on the visit (the request may succeed later)."""


def gateway_unreachable(what: str, **details: Any) -> GatewayError:
    return GatewayError(
        "video.gateway_unreachable", f"the video gateway is unreachable: {what}", **details
    )


def gateway_refused(code: int, reason: str, **details: Any) -> GatewayError:
    return GatewayError(
        "video.gateway_refused", f"the video gateway refused: {reason}", code=code, **details
    )


def disabled() -> GatewayError:
    return GatewayError("video.disabled", "video visits are not configured on this service")


def visit_unknown(visit_id: int) -> NotFound:
    return NotFound("video.visit_unknown", "unknown video visit", visit_id=visit_id)


def bed_unknown(bed: str) -> NotFound:
    return NotFound("video.bed_unknown", f"unknown bed {bed}", bed=bed)


def bed_empty(bed: str) -> Conflict:
    return Conflict("video.bed_empty", f"no patient in bed {bed}", bed=bed)


def bed_busy(bed: str, visit_id: int) -> Conflict:
    return Conflict(
        "video.bed_busy", f"bed {bed} already has a video visit", bed=bed, visit_id=visit_id
    )


def staff_unknown(usernames: list[str]) -> InvalidInput:
    return InvalidInput(
        "video.staff_unknown",
        "not an active clinician or nurse: " + ", ".join(usernames),
        usernames=usernames,
    )


def too_many(count: int, limit: int) -> InvalidInput:
    return InvalidInput(
        "video.too_many",
        f"a video visit has at most {limit} participants",
        count=count,
        limit=limit,
    )


def bad_request(field: str, message: str) -> InvalidInput:
    return InvalidInput("video.bad_request", message, field=field)


def not_participant(visit_id: int) -> PermissionDenied:
    return PermissionDenied(
        "video.not_participant", "you are not invited to this visit", visit_id=visit_id
    )


def not_accepted(visit_id: int) -> Conflict:
    return Conflict(
        "video.not_accepted", "the patient has not accepted the visit", visit_id=visit_id
    )


def not_admitted(visit_id: int) -> Conflict:
    return Conflict("video.not_admitted", "wait until the care team lets you in", visit_id=visit_id)


def wrong_state(visit_id: int, state: str, wanted: str) -> Conflict:
    return Conflict(
        "video.wrong_state",
        f"the visit is {state}, not {wanted}",
        visit_id=visit_id,
        state=state,
    )


def ended(visit_id: int) -> Conflict:
    return Conflict("video.ended", "the video visit is over", visit_id=visit_id)


def link_invalid() -> NotFound:
    """One answer for an unknown, expired, spent or foreign link: nothing to probe."""
    return NotFound("video.link_invalid", "this link is not valid (any more)")


def code_wrong(tries_left: int) -> PermissionDenied:
    return PermissionDenied("video.code_wrong", "wrong code", tries_left=tries_left)


def code_throttled() -> PermissionDenied:
    return PermissionDenied(
        "video.code_throttled", "too many wrong codes: ask for a new invitation"
    )


def no_terminal(bed: str) -> Conflict:
    return Conflict("video.no_terminal", f"bed {bed} has no bedside terminal", bed=bed)
