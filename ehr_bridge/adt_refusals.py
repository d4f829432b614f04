"""What an ADT message that cannot be applied is answered, and under which key it is kept.

HL7 table 0357 codes for Wardline's error ids; a database error split into "the database
cannot serve now" (:class:`StorageError`: no ACK, the sender sends again) and "the database
refuses this message's data" (:class:`StorageRefused`: answered AE or AR with the reason, so a
message the database will never take cannot block the feed behind it).
"""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError

from ehr_bridge.adt_message import MAX_CONTROL_ID, MAX_NAMESPACE
from ehr_bridge.errors import EhrError
from ehr_bridge.hl7_fields import MessageHeader, control_character
from wardline.db.engine import is_unavailable, sqlstate
from wardline.errors import StorageError

_DATA_ERRORS = frozenset(
    {
        "hl7.bad_encoding",
        "hl7.bad_datetime",
        "hl7.unknown_charset",
        "hl7.nonexistent_local_time",
        "hl7.control_character",
        "hl7.control_id_too_long",
        "hl7.sender_too_long",
        "hl7.ipp_too_long",
        "hl7.visit_too_long",
    }
)


class StorageRefused(EhrError):
    """The database refused a message's data (a constraint, a value it cannot store)."""

    @property
    def sqlstate(self) -> str:
        return str(self.details.get("sqlstate", ""))


def hl7_error_code(error_id: str) -> str:
    """HL7 table 0357 code for one of our error ids."""
    if error_id == "hl7.unsupported_type":
        return "200"
    if error_id in {"hl7.unsupported_event", "hl7.trigger_mismatch"}:
        return "201"
    if error_id in _DATA_ERRORS:
        return "102"
    if error_id.startswith("hl7."):
        return "101"
    if error_id.endswith(".unknown"):
        return "204"
    return "207"


def refused(exc: DBAPIError) -> StorageRefused:
    """The refusal a database error stands for; raises :class:`StorageError` instead when it
    says the database cannot serve now."""
    if is_unavailable(exc):
        raise StorageError("db.unavailable", "the database is unreachable") from exc
    code = sqlstate(exc) or type(exc.orig).__name__
    return StorageRefused(
        "db.refused", f"the database refused the message's data ({code})", sqlstate=code
    )


def safe_key(header: MessageHeader | None) -> tuple[str, str]:
    """(sender, control id) to keep an unusable message under: its own when they can be
    stored whole, else ("", "") (a generated key: the message is kept, never merged with
    another)."""
    if header is None:
        return "", ""
    names = (header.sending_application, header.sending_facility)
    fits = (
        0 < len(header.control_id) <= MAX_CONTROL_ID
        and all(len(name) <= MAX_NAMESPACE for name in names)
        and control_character(header.sender + header.control_id) is None
    )
    return (header.sender, header.control_id) if fits else ("", "")
