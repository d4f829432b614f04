"""The AstDB keys of a bed line, computed from the stay (pure; see asterisk_conf/README.md).

Family ``bed``: ``bed/<ext>/active`` (``1`` the line may call and be called, ``0`` suspended or
on leave), ``bed/<ext>/barring`` (internal, local, national, international),
``bed/<ext>/dnd`` (``1``/``0``), ``bed/<ext>/cidname`` (name shown to staff phones only).
Family ``did``: ``did/<number>`` = bed extension, only while the line is active and the patient
has not asked for non-disclosure (otherwise the number is routed as an unknown one).
An empty bed has no key at all: the dialplan's empty-bed profile.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from telephony.lines.astdb_keys import BED_FAMILY as BED_FAMILY
from telephony.lines.astdb_keys import DID_FAMILY as DID_FAMILY

BED_KEYS = ("active", "barring", "dnd", "cidname")
BARRING_LEVELS = ("internal", "local", "national", "international")
_UNSAFE = re.compile(r"[^\w .'-]", re.UNICODE)


@dataclass(frozen=True, kw_only=True)
class LineFacts:
    """What a bed line depends on: one active stay on one bed."""

    stay_id: int
    extension: str
    bed_label: str
    did: str | None
    barring: str
    do_not_disturb: bool
    suspended: bool
    on_leave: bool
    non_disclosure: bool
    family_name: str
    given_name: str


def caller_name(facts: LineFacts) -> str:
    """Shown to staff phones: the patient's name, or only the bed for non-disclosure."""
    if facts.non_disclosure:
        text = f"Chambre {facts.bed_label}"
    else:
        text = f"{facts.family_name.upper()} {facts.given_name}".strip()
    text = unicodedata.normalize("NFC", text)
    return _UNSAFE.sub("", text)[:40].strip() or f"Chambre {facts.bed_label}"


def line_keys(facts: LineFacts) -> dict[str, str]:
    """Full key (``family/key``) -> value for one active stay."""
    ext = facts.extension
    active = not (facts.suspended or facts.on_leave)
    barring = facts.barring if facts.barring in BARRING_LEVELS else "internal"
    keys = {
        f"bed/{ext}/active": "1" if active else "0",
        f"bed/{ext}/barring": barring,
        f"bed/{ext}/dnd": "1" if facts.do_not_disturb else "0",
        f"bed/{ext}/cidname": caller_name(facts),
    }
    if facts.did and active and not facts.non_disclosure:
        keys[f"did/{facts.did}"] = ext
    return keys


def all_keys(lines: list[LineFacts]) -> dict[str, str]:
    out: dict[str, str] = {}
    for facts in lines:
        out.update(line_keys(facts))
    return out


def bed_key_names(extension: str) -> list[str]:
    return [f"bed/{extension}/{name}" for name in BED_KEYS]


def split_key(full: str) -> tuple[str, str]:
    """``bed/2001/active`` -> (``bed/2001``, ``active``) as DBPut wants them."""
    family, _, key = full.rpartition("/")
    return family, key


def owned(full: str) -> bool:
    """A key Wardline manages (anything under ``bed/`` and ``did/``)."""
    return full.startswith((f"{BED_FAMILY}/", f"{DID_FAMILY}/"))
