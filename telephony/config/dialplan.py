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
    astdb_write: str = "write"
    astdb_done: str = "done"
    astdb_piece_bytes: int = 960
    """Bytes of one piece at most: a piece is one ``Variable`` header, and Asterisk reads an
    AMI line of at most 1,024 bytes (``Variable: WL_DB_P99="…"`` included)."""
    astdb_piece_items: int = 99
    """Keys of one piece at most (``MSet`` sets at most 99 pairs)."""
    astdb_pieces: int = 8
    """Pieces of one write at most (an AMI message holds at most 128 lines; fewer, smaller
    writes run side by side on the PBX's cores)."""
    astdb_parallel: int = 4
    """Writes in flight at once: enough to keep a PBX's cores busy; more would only queue in
    the PBX, and each write must be answered within the AMI action timeout."""
    # features.conf [featuremap]: the codes AMI's Atxfer and BlindTransfer need on a channel
    feature_atxfer: str = "*2"
    feature_blindxfer: str = "#1"
    feature_disconnect: str = "*0"
    atxfer_abort: str = "*3"
    atxfer_complete: str = "*4"
    atxfer_threeway: str = "*5"
    atxfer_swap: str = "*6"

    def astdb_writes(self, puts: Mapping[str, str], deletes: Sequence[str]) -> list[list[str]]:
        """The ``Variable`` headers of each write (one Originate each) that puts and deletes
        these full keys (``family/key``).

        A write holds ``WL_DB_NP`` pieces of puts ``WL_DB_P<i>`` (``DB(<key>)=<value>`` items,
        comma-separated: one ``MSet`` each in the dialplan) and ``WL_DB_ND`` pieces of deletes
        ``WL_DB_D<i>`` (keys, comma-separated); each piece is quoted so that Asterisk reads its
        commas as part of the value. The dialplan checks every piece with one regular
        expression (:func:`astdb_put_piece_rule`, :func:`astdb_delete_piece_rule`) before it
        writes anything. Raises ``ValueError`` for a key or value Wardline does not write."""
        for key, value in puts.items():
            if not astdb_value_allowed(key, value):
                raise ValueError(f"AstDB key {key!r} or its value is not one Wardline writes")
        for key in deletes:
            if not astdb_key_allowed(key):
                raise ValueError(f"AstDB key {key!r} is not one Wardline writes")
        pieces = [("P", p) for p in self._pieces([f"DB({k})={v}" for k, v in puts.items()])]
        pieces += [("D", p) for p in self._pieces(list(deletes))]
        writes: list[list[str]] = []
        for start in range(0, len(pieces), self.astdb_pieces):
            group = pieces[start : start + self.astdb_pieces]
            headers = [
                f"WL_DB_NP={sum(1 for kind, _p in group if kind == 'P')},"
                f"WL_DB_ND={sum(1 for kind, _p in group if kind == 'D')}"
            ]
            counts = {"P": 0, "D": 0}
            for kind, piece in group:
                counts[kind] += 1
                headers.append(f'WL_DB_{kind}{counts[kind]}="{piece}"')
            writes.append(headers)
        return writes

    def _pieces(self, items: list[str]) -> list[str]:
        out: list[list[str]] = []
        size = 0
        for item in items:
            length = len(item.encode()) + 1
            if (
                not out
                or len(out[-1]) >= self.astdb_piece_items
                or size + length > (self.astdb_piece_bytes)
            ):
                out.append([])
                size = 0
            out[-1].append(item)
            size += length
        return [",".join(piece) for piece in out]


DIALPLAN = Dialplan()

# What the dialplan's checks accept. Each rule is spelled so that Python's ``re`` reads it as
# POSIX extended expressions (Asterisk's REGEX) read what Asterisk's argument parser leaves of
# it: the parser drops a backslash and takes the next character literally (uncounted among the
# parentheses and brackets it balances), so a literal ( ) " or backslash is written escaped
# inside a bracket expression ("[\(]", "[^]\[\(\)\"\\,=]"), where Python reads the same set.
# A name holds none of , ( ) [ ] " backslash = (MSet would split or unquote them).
_EXT = "[0-9]{1,32}"
BED_FLAG_KEY = f"{BED_FAMILY}/{_EXT}/({ACTIVE}|{DND})"
BED_BARRING_KEY = f"{BED_FAMILY}/{_EXT}/{BARRING}"
BED_CIDNAME_KEY = f"{BED_FAMILY}/{_EXT}/{CIDNAME}"
DID_KEY = f"{DID_FAMILY}/{_EXT}"
FLAG_VALUE = "[01]"
BARRING_VALUE = f"({'|'.join(BARRING_LEVELS)})"
CIDNAME_VALUE = r"[^]\[\(\)\"\\,=]{1,160}"
DID_VALUE = _EXT
_RULES = (
    (BED_FLAG_KEY, FLAG_VALUE),
    (BED_BARRING_KEY, BARRING_VALUE),
    (BED_CIDNAME_KEY, CIDNAME_VALUE),
    (DID_KEY, DID_VALUE),
)
_KEY = f"({'|'.join(key for key, _v in _RULES)})"
_PUT = "DB[\\(](" + "|".join(f"{key}[\\)]={value}" for key, value in _RULES) + ")"


def astdb_key_allowed(key: str) -> bool:
    return re.fullmatch(_KEY, key) is not None


def astdb_value_allowed(key: str, value: str) -> bool:
    """The key is one Wardline writes and the value one of its (printable; at most 160 bytes
    as Asterisk counts them)."""
    return (
        value.isprintable()
        and len(value.encode()) <= 160
        and re.fullmatch(_PUT, f"DB({key})={value}") is not None
    )


def astdb_put_piece_rule() -> str:
    """A piece of puts: ``DB(<key>)=<value>`` items, comma-separated (the dialplan's REGEX)."""
    return f"^{_PUT}(,{_PUT})*$"


def astdb_delete_piece_rule() -> str:
    """A piece of deletes: keys, comma-separated (the dialplan's REGEX)."""
    return f"^{_KEY}(,{_KEY})*$"
