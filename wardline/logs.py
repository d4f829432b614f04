"""structlog, configured once: console in a terminal, JSON otherwise; contextvars for call,
bed and request ids; and a processor that removes patient identity from every event.

Call sites log ids and topics, never payloads; the redaction processor is the safety net for
mistakes: it drops the value of any key that names patient identity and scrubs values that
look like an INS/NIR, a phone number or an e-mail address.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any, TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

REDACTED = "[redacted]"

SENSITIVE_KEYS = frozenset(
    {
        "name",
        "names",
        "patient_name",
        "family_name",
        "given_name",
        "first_name",
        "last_name",
        "addressed_as",
        "caller_name",
        "calleridname",
        "connectedlinename",
        "birth_date",
        "birthdate",
        "dob",
        "ins",
        "nir",
        "ipp",
        "mrn",
        "phone",
        "phone_number",
        "address",
        "payload",
        "body",
        "raw",
        "message_text",
        "password",
        "pin",
        "secret",
        "badge",
        "token",
    }
)

# INS/NIR: 13 digits + 2 key digits (spaces allowed); French and international phone numbers.
_INS = re.compile(r"\b[12]\s?\d{2}\s?\d{2}\s?\d{2}\s?\d{3}\s?\d{3}(?:\s?\d{2})?\b")
_PHONE = re.compile(r"(?:\+\d{2,3}\s?|\b0)[1-9](?:[\s.-]?\d{2}){4}\b")
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+\.[\w.-]+\b")


def _scrub(value: str) -> str:
    value = _INS.sub(REDACTED, value)
    value = _PHONE.sub(REDACTED, value)
    return _EMAIL.sub(REDACTED, value)


def _redact_value(key: str, value: Any) -> Any:
    if key.lower() in SENSITIVE_KEYS:
        return REDACTED
    if isinstance(value, str):
        return _scrub(value)
    if isinstance(value, MutableMapping):
        return {k: _redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value("", v) for v in value]
    return value


def redact_patient_identity(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """structlog processor: no patient identity leaves the process through the logs."""
    for key in list(event_dict):
        if key in ("timestamp", "level", "logger"):
            continue
        event_dict[key] = _redact_value(key, event_dict[key])
    return event_dict


def _shared_processors() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        redact_patient_identity,
    ]


def configure_logging(
    level: str = "INFO",
    fmt: str = "auto",
    stream: TextIO | None = None,
    *,
    file: Path | None = None,
    stream_level: str | None = None,
    file_only: tuple[str, ...] = (),
) -> None:
    """Configure structlog and the standard library logging once for the process.

    With ``file``, every record at ``level`` goes to that file as JSON lines and the stream
    only shows records at ``stream_level`` and above (the demo keeps its terminal for the
    banner, warnings and errors); records of the ``file_only`` loggers go to the file alone."""
    out = stream or sys.stderr
    use_console = fmt == "console" or (fmt == "auto" and out.isatty())
    renderer: Processor = (
        structlog.dev.ConsoleRenderer(colors=out.isatty())
        if use_console
        else structlog.processors.JSONRenderer()
    )
    structlog.configure(
        processors=[
            *_shared_processors(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_shared_processors(),
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(formatter)
    handlers: list[logging.Handler] = [handler]
    if stream_level is not None:
        handler.setLevel(stream_level.upper())
    if file is not None and file_only:
        handler.addFilter(lambda record: not record.name.startswith(file_only))
    if file is not None:
        file.parent.mkdir(parents=True, exist_ok=True)
        to_file = logging.FileHandler(file, encoding="utf-8")
        to_file.setFormatter(
            structlog.stdlib.ProcessorFormatter(
                foreign_pre_chain=_shared_processors(),
                processors=[
                    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.JSONRenderer(),
                ],
            )
        )
        handlers.append(to_file)
    root = logging.getLogger()
    for old in root.handlers:
        old.close()
    root.handlers[:] = handlers
    root.setLevel(level.upper())
    # Libraries that log message contents at DEBUG stay quiet.
    noisy_loggers = (
        "panoramisk",
        "amqtt",
        "transitions",
        "asyncio",
        "aiosqlite",
        "alembic.runtime.plugins",
        "alembic.runtime.migration",  # two lines at every start; migrations say what they did
    )
    for noisy in noisy_loggers:
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
