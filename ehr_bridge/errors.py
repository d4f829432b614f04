"""The EHR border's exception family: HL7 v2 (ADT over MLLP) and FHIR R4.

Every error has a stable ``error_id``; callers ``raise ... from exc`` to keep the cause.
"""

from __future__ import annotations

from wardline.errors import Unavailable, WardlineError


class EhrError(WardlineError):
    """Base of every expected failure at the EHR border."""


class Hl7Error(EhrError):
    """An HL7 v2 message that cannot be used."""


class MalformedMessage(Hl7Error):
    """Framing, encoding or structure is wrong: the message is rejected (ACK AR)."""


class UnsupportedMessage(Hl7Error):
    """A well-formed message of a type or event Wardline does not handle (ACK AR)."""


class IgnoredEvent(Hl7Error):
    """A known ADT event the hospital sends and Wardline does not use (ACK AA, ignored)."""


class FhirError(EhrError):
    """A FHIR exchange failed."""


class FhirUnreachable(FhirError, Unavailable):
    """The FHIR server did not answer (connection refused, timeout, 5xx)."""


class FhirRefused(FhirError):
    """The FHIR server refused a request for good (4xx, with an OperationOutcome reason)."""


class FhirAuthError(FhirError, Unavailable):
    """The FHIR server or its token endpoint refused our credentials: the service cannot
    reach the record until its settings are fixed (the reason is kept for the admin)."""


class InvalidResource(FhirError):
    """A resource we were about to send does not validate against FHIR R4."""


class NotConfigured(EhrError):
    """The EHR bridge lacks a setting it needs (FHIR URL...)."""


class WrongPatient(EhrError):
    """The scanned wristband is not the stay's patient: nothing is recorded."""


class DoseAlreadyRecorded(EhrError):
    """This dose (order, due time) already has its record, given or not: nothing is added."""
