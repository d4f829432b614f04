"""Typed domain errors, each with a stable id. Raising one means nothing was written."""

from __future__ import annotations

from wardline.errors import WardlineError


class DomainError(WardlineError):
    """A request that the hospital's rules refuse."""


class NotFound(DomainError):
    """An unknown bed, stay, patient, terminal or user."""


class Conflict(DomainError):
    """The request contradicts the current state (occupied bed, second active stay...)."""


class InvalidInput(DomainError):
    """The request itself is malformed (bad inventory file, missing field...)."""


class PermissionDenied(DomainError):
    """The person may not do this."""


def unknown_bed(bed: str) -> NotFound:
    return NotFound("bed.unknown", f"unknown bed {bed}", bed=bed)


def unknown_stay(visit: str) -> NotFound:
    return NotFound("stay.unknown", f"unknown stay {visit}", visit_number=visit)


def bed_occupied(bed: str) -> Conflict:
    return Conflict("bed.occupied", f"bed {bed} already has an active stay", bed=bed)


def patient_already_admitted(visit: str) -> Conflict:
    return Conflict(
        "patient.already_admitted",
        "the patient already has an active stay",
        active_visit_number=visit,
    )


def no_did_available() -> Conflict:
    return Conflict("did.exhausted", "no direct number is free in the pool")
