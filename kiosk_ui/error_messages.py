"""Refusals a person reads, in the page's language: for each stable error id, the English
message id of the catalogs, with ``{placeholders}`` filled from the error's details.

The error keeps its own English message for logs and the command line; the web middleware
answers with this one, translated (:func:`for_people`). An id not listed keeps its message.
"""

from __future__ import annotations

from kiosk_ui.i18n import Translator
from wardline.errors import WardlineError

EHR_DOWN = "The health record cannot be reached: try again in a moment. Nothing was recorded."
MESSAGES: dict[str, str] = {
    # the EHR, seen from the bed (the server's own reason stays in the admin outbox view)
    "fhir.unreachable": EHR_DOWN,
    "fhir.server_error": EHR_DOWN,
    "fhir.token_unreachable": EHR_DOWN,
    "fhir.unauthorized": "The health record refuses the service's credentials: "
    "tell the administrator. Nothing was recorded.",
    "fhir.token_refused": "The health record refuses the service's credentials: "
    "tell the administrator. Nothing was recorded.",
    "ehr.not_configured": "No health record is connected to this service.",
    # one record per dose
    "ehr.dose_already_recorded": "This dose has already been recorded: "
    "it cannot be recorded twice.",
    "bedside.dose_already_recorded": "This dose has already been recorded: "
    "it cannot be recorded twice.",
    # the five rights
    "bedside.wrong_patient": "This wristband is not this bed's patient: nothing was recorded.",
    "ehr.wrong_patient": "This wristband is not this bed's patient: nothing was recorded.",
    "bedside.unknown_order": "This order is not in the patient's record.",
    "bedside.unknown_dose": "This dose is not in today's schedule.",
    "bedside.wrong_medication": "The scanned medication does not match the order.",
    "bedside.dose_needed": "Enter the dose given, with its unit.",
    "bedside.wrong_unit": "The unit {given} cannot be compared with the ordered {ordered}.",
    "bedside.wrong_dose": "The ordered dose is {ordered}: {given} does not match.",
    "bedside.dose_too_high": "A partial dose is less than the ordered {ordered}.",
    "bedside.confirm_dose": "This order has no machine-readable dose: check the dose "
    "against the order's text ({text}) and confirm.",
    "bedside.order_unclear": "This order has no dose: to clarify with the prescriber.",
    "bedside.wrong_route": "The ordered route is {ordered}.",
    "bedside.reason_needed": "Say why the dose was not given.",
    "bedside.reason_text_needed": "Say why in words.",
    "bedside.partial_reason_needed": "Say why only part of the dose was given.",
    "bedside.outside_window": "This is outside the dose's time window: give a reason.",
    "bedside.nurse_signed_out": "Tap your badge and type your PIN.",
    "bedside.no_stay": "No patient in this bed.",
}


def for_people(error: WardlineError, tr: Translator) -> str:
    """The error's message for the person reading the page, in their language."""
    template = MESSAGES.get(error.error_id)
    if template is None:
        return error.message
    try:
        return tr(template).format(**{k: v for k, v in error.details.items() if v is not None})
    except (KeyError, IndexError, ValueError):
        return tr(template)
