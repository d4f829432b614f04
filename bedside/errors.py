"""The MQTT border's exception family: every failure at the terminal border is one of these."""

from __future__ import annotations

from wardline.errors import WardlineError


class BedsideError(WardlineError):
    """Base of every expected failure of the bedside terminal border."""


class TopicInvalid(BedsideError):
    """A topic that is not one of the contract's, or names an invalid terminal id."""


class PayloadInvalid(BedsideError):
    """A payload that is not valid JSON or does not match its schema."""


class PayloadTooLarge(PayloadInvalid):
    """A payload larger than the contract allows."""


class UnsupportedVersion(PayloadInvalid):
    """A payload of a contract version this service does not speak."""


class BrokerUnavailable(BedsideError):
    """The broker could not be reached or did not acknowledge in time."""


class UnknownTerminal(BedsideError):
    """A terminal id that the inventory does not know."""


class NurseCallError(BedsideError):
    """A nurse-call request refused (unknown call, already cleared, not a nurse...)."""
