"""A ward's nurse-call ring policy (docs/inventory.md, ``nurse_call_policy:`` of a ward): how
long one ring lasts in the dialplan, how often a ring is placed again while the call is open,
which phones ring at each escalation level, whether lower levels keep ringing, what the
station's display shows, and whether answering connects the nurse to the bed phone.

Pure values and functions: the inventory validates them, the bedside edge turns an open call
into the phones to ring (:func:`phones_at_level`), telephony rings them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

CallerName = Literal["room_bed", "patient"]
POLICY_META_KEY = "nurse_call_policies"
"""``inventory_meta`` row holding ``{ward code: policy}`` as loaded from the inventory."""


class NurseCallPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    dial_limit_seconds: int = Field(default=45, ge=2, le=600)
    """How long one ring of a phone lasts (the ``Dial`` limit of the ring's dialplan)."""
    reissue_seconds: int = Field(default=40, ge=1, le=590)
    """A new ring is placed this often while the call is open; below ``dial_limit_seconds``
    so that a phone never falls silent between two rings."""
    keep_lower_levels: bool = True
    """At an escalation, the phones of the levels before keep ringing (False: only the new
    level's phones ring, the others are stopped)."""
    caller_name: CallerName = "room_bed"
    """What the ringing phone displays: the room and bed (default), or the patient's name
    where the hospital allows it (read by the dialplan from AstDB ``bed/<ext>/cidname``,
    which is the bed alone for a patient who asked for non-disclosure)."""
    answer_connects_bed: bool = False
    """Answering the ring connects the nurse to the bed phone (else an announcement)."""

    @model_validator(mode="after")
    def _no_silent_gap(self) -> NurseCallPolicy:
        if self.reissue_seconds >= self.dial_limit_seconds:
            raise ValueError(
                f"reissue_seconds ({self.reissue_seconds}) must be below dial_limit_seconds "
                f"({self.dial_limit_seconds}): a phone would fall silent between two rings"
            )
        return self


DEFAULT_POLICY = NurseCallPolicy()


def policy_of(stored: Mapping[str, Any] | None, ward_code: str) -> NurseCallPolicy:
    """The ward's policy from the stored ``{ward: policy}`` map (the default when absent)."""
    raw = (stored or {}).get(ward_code)
    return NurseCallPolicy.model_validate(raw) if raw else DEFAULT_POLICY


def level_phones(step: Mapping[str, Any], station_of: Callable[[str], str | None]) -> list[str]:
    """The phones one escalation step names: ``extension``, ``extensions`` or another ward's
    nurse station (``ward``)."""
    phones = [str(e) for e in step.get("extensions") or ()]
    if step.get("extension"):
        phones.insert(0, str(step["extension"]))
    if step.get("ward"):
        station = station_of(str(step["ward"]))
        if station:
            phones.append(station)
    return phones


def ordered_steps(escalation: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Escalation steps numbered from 1 in order of their time limit."""
    return sorted(escalation, key=lambda e: float(e.get("after_seconds", 0)))


def phones_at_level(
    station: str | None,
    escalation: Iterable[Mapping[str, Any]],
    level: int,
    policy: NurseCallPolicy,
    station_of: Callable[[str], str | None],
) -> tuple[str, ...]:
    """The phones that ring for a call at ``level`` (0: the ward's nurse station), in order,
    each once. With ``keep_lower_levels`` the levels below ring too."""
    levels: list[list[str]] = [[station] if station else []]
    levels += [level_phones(step, station_of) for step in ordered_steps(escalation)]
    level = max(0, min(level, len(levels) - 1))
    chosen = levels[: level + 1] if policy.keep_lower_levels else [levels[level]]
    return tuple(dict.fromkeys(p for phones in chosen for p in phones))


ROOM_BED_NAMES = {
    "fr": "Appel ch. {room} lit {bed}",
    "en": "Call room {room} bed {bed}",
    "de": "Ruf Zi. {room} Bett {bed}",
    "lb": "Ruff Zëm. {room} Bett {bed}",
}


def room_bed_name(room: str, bed: str, language: str) -> str:
    """The station display for a call: room and bed, in the hospital's language."""
    return ROOM_BED_NAMES.get(language, ROOM_BED_NAMES["fr"]).format(room=room, bed=bed)
