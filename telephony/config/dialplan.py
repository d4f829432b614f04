"""The names the generated dialplan defines and the actions use: one source of truth.

The templates of ``asterisk_conf`` render every context, extension and feature code from
:data:`DIALPLAN`; the switchboard actions (:mod:`telephony.calls.actions`), the AstDB writes and
the simulator take them from the same object. Nothing else in the code spells a context.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from telephony.lines.astdb_keys import ACTIVE, BARRING, BED_FAMILY, CIDNAME, DID_FAMILY, DND

BARRING_LEVELS = ("internal", "local", "national", "international")


@dataclass(frozen=True)
class Dialplan:
    staff_context: str = "from-staff"
    """Where the switchboard's actions send calls (console dial, answer, transfers, pick up):
    the operators' own context, which reaches beds, staff phones, nurse calls, parking and
    outside numbers."""
    bed_context: str = "from-bed"
    trunk_context: str = "from-trunk"
    queue_context: str = "wl-switchboard"
    parking_context: str = "parkedcalls"
    parking_lot: str = "default"
    nurse_ring_context: str = "wl-nurse-ring"
    """A nurse call's ring: originated as ``Local/<phone>@<nurse_ring_context>`` with the
    ``WL_NC_*`` variables (see asterisk_conf/README.md)."""
    nurse_answered_context: str = "wl-nurse-answered"
    nurse_answered_exten: str = "s"
    """Where an answered ring goes: it reports the answer, then plays or connects the bed."""
    nurse_answered_event: str = "WardlineNurseCallAnswered"
    """The ``UserEvent`` of an answered ring (with ``NurseCall`` and ``Station``)."""
    astdb_context: str = "wl-astdb"
    """Wardline's AstDB writes: originated as ``Local/<astdb_write>@<astdb_context>`` with
    the keys as channel variables, checked by the dialplan (the AMI account has no ``system``
    class, hence no DBPut or DBDel)."""
    astdb_check_context: str = "wl-astdb-check"
    astdb_write: str = "write"
    astdb_done: str = "done"
    astdb_batch: int = 90
    """Keys per write at most (the dialplan refuses more than 99; an AMI message holds at
    most 128 lines)."""
    # features.conf [featuremap]: the codes AMI's Atxfer and BlindTransfer need on a channel
    feature_atxfer: str = "*2"
    feature_blindxfer: str = "#1"
    feature_disconnect: str = "*0"
    atxfer_abort: str = "*3"
    atxfer_complete: str = "*4"
    atxfer_threeway: str = "*5"
    atxfer_swap: str = "*6"

    def astdb_variables(self, puts: Mapping[str, str], deletes: Sequence[str]) -> list[str]:
        """``Variable`` headers of one write: ``WL_DB_N``, then one header per key holding
        ``WL_DB_OP<i>``, ``WL_DB_K<i>`` (``family/key``) and ``WL_DB_V<i>`` (comma-separated, as
        Asterisk reads a Variable header; no value holds a comma). An AMI message has at
        most 128 lines."""
        items = [("put", k, v) for k, v in puts.items()] + [("del", k, "") for k in deletes]
        if not 0 < len(items) <= 99:
            raise ValueError(f"an AstDB write holds 1 to 99 keys, not {len(items)}")
        out = [f"WL_DB_N={len(items)}"]
        for i, (op, key, value) in enumerate(items, start=1):
            if not astdb_key_allowed(key) or (op == "put" and not astdb_value_allowed(key, value)):
                raise ValueError(f"AstDB key {key!r} or its value is not one Wardline writes")
            out.append(f"WL_DB_OP{i}={op},WL_DB_K{i}={key},WL_DB_V{i}={value}")
        return out


DIALPLAN = Dialplan()

# What the dialplan's checks accept (the same rules, rendered into [wl-astdb-check]).
BED_FLAG_KEY = rf"^{BED_FAMILY}/[0-9]{{1,32}}/({ACTIVE}|{DND})$"
BED_BARRING_KEY = rf"^{BED_FAMILY}/[0-9]{{1,32}}/{BARRING}$"
BED_CIDNAME_KEY = rf"^{BED_FAMILY}/[0-9]{{1,32}}/{CIDNAME}$"
DID_KEY = rf"^{DID_FAMILY}/[0-9]{{1,32}}$"
FLAG_VALUE = r"^[01]$"
BARRING_VALUE = rf"^({'|'.join(BARRING_LEVELS)})$"
CIDNAME_VALUE = r"^[^,]{1,160}$"
DID_VALUE = r"^[0-9]{1,32}$"
_RULES = (
    (BED_FLAG_KEY, FLAG_VALUE),
    (BED_BARRING_KEY, BARRING_VALUE),
    (BED_CIDNAME_KEY, CIDNAME_VALUE),
    (DID_KEY, DID_VALUE),
)


def astdb_key_allowed(key: str) -> bool:
    return any(re.search(k, key) for k, _v in _RULES)


def astdb_value_allowed(key: str, value: str) -> bool:
    for key_rule, value_rule in _RULES:
        if re.search(key_rule, key):
            return re.search(value_rule, value) is not None and "\n" not in value
    return False


def astdb_rules() -> tuple[tuple[str, str], ...]:
    """(key regex, value regex) pairs, for the template and the simulator."""
    return _RULES
