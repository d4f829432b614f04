"""Refusals a person reads, in the page's language: for each stable error id, the English
message id of the catalogs, with ``{placeholders}`` filled from the error's details.

The error keeps its own English message for logs and the command line; the web middleware
answers with this one, translated (:func:`for_people`). An id not listed keeps its message.
"""

from __future__ import annotations

from typing import Any

from babel.numbers import format_decimal

from kiosk_ui.i18n import Translator
from wardline.errors import WardlineError

EHR_DOWN = "The health record cannot be reached: try again in a moment. Nothing was recorded."
EHR_REFUSED = "The health record refused this: tell the administrator. Nothing was recorded."
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
    "ehr.ipp_system_missing": "The service does not know the hospital's patient identifier "
    "system: tell the administrator.",
    # the record does not match the admission: nothing clinical is shown or written
    "ehr.identity_to_be_checked": "Identity to be checked: nothing clinical is shown or "
    "recorded for this patient. Ask the admissions office to check the identity in the EHR.",
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
    "bedside.order_unclear": "This order is to clarify with the prescriber.",
    "bedside.order_suspended": "This order is suspended.",
    "bedside.wrong_route": "The ordered route is {ordered}.",
    "bedside.reason_needed": "Say why the dose was not given.",
    "bedside.reason_text_needed": "Say why in words.",
    "bedside.partial_reason_needed": "Say why only part of the dose was given.",
    "bedside.outside_window": "This is outside the dose's time window: give a reason.",
    "vitals.blood_pressure_half": "A blood pressure has its systolic and diastolic values.",
    "bedside.nurse_signed_out": "Tap your badge and type your PIN.",
    "bedside.no_stay": "No patient in this bed.",
    # what the EHR refused for good, or a write that cannot be made (nothing is queued)
    "fhir.refused": EHR_REFUSED,
    "fhir.bad_reply": EHR_REFUSED,
    "fhir.foreign_link": EHR_REFUSED,
    "fhir.multiple_matches": "The health record holds this patient more than once: "
    "tell the administrator. Nothing was recorded.",
    "fhir.patient_unknown": "The health record does not know this patient.",
    "fhir.invalid_resource": EHR_REFUSED,
    "fhir.invalid_code": EHR_REFUSED,
    "fhir.order_medication": "The order names no medication the record can use: "
    "to clarify with the prescriber. Nothing was recorded.",
    "fhir.invalid_reason": "Choose why the dose was not given.",
    "fhir.implausible_value": "A value is outside the plausible range: check the measurement.",
    "fhir.blood_pressure_half": "Enter both the systolic and the diastolic pressure.",
    # vital signs
    "vitals.empty": "Enter at least one vital sign.",
    "vitals.unknown": "Unknown vital sign {kind}.",
    "vitals.implausible": "{kind} {value} is outside {low}-{high}: check the measurement.",
    # signing in, at the bed and elsewhere
    "auth.failed": "Unknown user or wrong secret.",
    "auth.throttled": "Too many failed sign-ins: try again in {retry_after} seconds.",
    "auth.rate_limited": "Too many attempts: wait a minute.",
    "signin.extension": "Choose one of the switchboard phones.",
    "auth.required": "Sign in first.",
    "auth.role": "Your role does not allow this.",
    "auth.csrf": "The page has expired: reload it.",
    "auth.origin": "The request comes from another site.",
    # the patient's TV
    "nurse_call.unavailable": "The nurse call is not available: use the button at the bed.",
    "survey.range": "Choose a score from 1 to 5 for at least one question.",
    "lang.unknown": "Unknown language.",
    "terminal.unknown": "Unknown terminal.",
    "meal.no_stay": "No patient in this bed.",
    "meal.closed": "The kitchen has closed the orders.",
    "meal.unknown": "Choose lunch or dinner.",
    "meal.unknown_dish": "This dish is not on the menu.",
    "meal.not_allowed": "This dish does not suit your diet.",
    "kitchen.other_ward": "This is another ward's export.",
    # video visits (issue 17)
    "video.disabled": "Video visits are not available on this service.",
    "video.gateway_unreachable": "The video service cannot be reached: try again in a moment.",
    "video.gateway_refused": "The video service refused: tell the technical team.",
    "video.visit_unknown": "This video visit does not exist (any more).",
    "video.bed_unknown": "Unknown bed.",
    "video.bed_empty": "No patient in this bed.",
    "video.bed_busy": "This bed already has a video visit.",
    "video.no_terminal": "This bed has no bedside terminal.",
    "video.staff_unknown": "Not an active clinician or nurse account: {usernames}.",
    "video.too_many": "A video visit has at most {limit} participants.",
    "video.bad_request": "Check what you entered.",
    "video.not_participant": "You are not invited to this video visit.",
    "video.not_accepted": "The patient has not accepted the video visit yet.",
    "video.not_admitted": "Please wait: the care team will let you in.",
    "video.wrong_state": "This is no longer possible for this video visit.",
    "video.ended": "The video visit is over.",
    "video.link_invalid": "This link is not valid (any more): "
    "ask the care team for a new invitation.",
    "video.code_wrong": "Wrong code: {tries_left} tries left.",
    "video.code_throttled": "Too many wrong codes: ask the care team for a new invitation.",
    # the web border itself
    "request.invalid": "Check what you entered.",
    "request.control_character": "A field holds a control character: remove it.",
    "request.too_large": "What you sent is too large.",
    "route.unknown": "This is not available.",
    "route.method": "This is not available.",
    "db.unavailable": "The service is unavailable for a moment: try again.",
    "internal": "Something went wrong on our side: try again.",
    "http": "The service cannot be reached: try again.",
}
"""Every refusal a page can meet; ``tests/tv/test_refusals.py`` checks that each id raised by
the modules behind the TV and the bedside pages is here, in French, English and German."""
TERMS: dict[str, str] = {
    "heart_rate": "Heart rate",
    "temperature": "Temperature",
    "spo2": "SpO2",
    "respiratory_rate": "Respiratory rate",
    "systolic": "Systolic pressure",
    "diastolic": "Diastolic pressure",
}
"""Detail values that are words of the vocabulary (a vital sign's kind): shown translated."""
AT_THE_BED: dict[str, str] = {
    "auth.failed": "Unknown badge or wrong PIN.",
    "auth.role": "Only nurses sign in at the bed.",
    "auth.required": "This TV is no longer enrolled: call the technical team.",
}
"""The TV's own words: there, signing in is a nurse's badge and PIN."""


def for_people(error: WardlineError, tr: Translator) -> str:
    """The error's message for the person reading the page, in their language."""
    template = MESSAGES.get(error.error_id)
    if template is None:
        return error.message
    try:
        return tr(template).format(**shown_details(error.details, tr))
    except (KeyError, IndexError, ValueError):
        return tr(template)


def shown_details(details: dict[str, Any], tr: Translator) -> dict[str, str]:
    """Details as a person reads them: words of the vocabulary translated, numbers written
    the language's way (37,5 in French)."""
    shown: dict[str, str] = {}
    for key, value in details.items():
        if value is None:
            continue
        if isinstance(value, str) and value in TERMS:
            shown[key] = tr(TERMS[value])
        elif isinstance(value, int | float) and not isinstance(value, bool):
            shown[key] = format_decimal(value, locale=tr.lang)
        else:
            shown[key] = str(value)
    return shown


def page_refusals(
    tr: Translator, wording: dict[str, str] | None = None
) -> dict[str, dict[str, str]]:
    """What a page's script needs to show a refusal from its id and details, in its language
    (``wording``: the page's own words for some ids)."""
    texts = {**MESSAGES, **(wording or {})}
    return {
        "refusals": {error_id: tr(text) for error_id, text in texts.items()},
        "terms": {term: tr(label) for term, label in TERMS.items()},
    }
