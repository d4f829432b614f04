"""The root of Wardline's exception families.

Each border (AMI, MQTT, HL7, FHIR, HTTP) has its own family deriving from :class:`WardlineError`;
every error carries a stable ``error_id`` (for logs, API answers and tests) and details.
HTTP status codes are chosen only by the web middleware, from the family and the id.
"""

from __future__ import annotations

from typing import Any


class WardlineError(Exception):
    """Base of every expected failure. ``error_id`` is stable; ``message`` is for people."""

    def __init__(self, error_id: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.error_id = error_id
        self.message = message
        self.details = details

    def __str__(self) -> str:
        return self.message

    def as_dict(self) -> dict[str, Any]:
        return {"error": self.error_id, "message": self.message, "details": self.details}


class ConfigError(WardlineError):
    """Settings or a configuration file are unusable."""


class StorageError(WardlineError):
    """The database is unreachable or refused an operation."""


class Unavailable(WardlineError):
    """A system the service depends on cannot be used right now (down, or refusing the
    service's credentials): the request may succeed later, nothing was changed."""
