"""Wardline's AstDB writes as the generated dialplan runs them: an Originate of
``Local/<astdb_write>@<astdb_context>`` carrying ``WL_DB_*`` variables. Every key is checked
with the rules the dialplan is rendered from (:mod:`telephony.config.dialplan`); one refused
key refuses the write (OriginateResponse Failure, nothing written), as on Asterisk 22."""

from __future__ import annotations

from typing import TYPE_CHECKING

from telephony.ami.frames import AmiMessage
from telephony.config.dialplan import DIALPLAN, astdb_key_allowed, astdb_value_allowed

if TYPE_CHECKING:
    from telephony.simulator.pbx import SimPbx


def _variables(a: AmiMessage) -> dict[str, str]:
    out: dict[str, str] = {}
    for header in a.get_all("Variable"):
        for item in header.split(","):
            name, sep, value = item.partition("=")
            if sep:
                out[name.strip()] = value
    return out


def _batch(variables: dict[str, str]) -> tuple[dict[str, str], list[str]] | None:
    """(puts, deletes), or None when the dialplan would refuse the write."""
    count = variables.get("WL_DB_N", "")
    if not count.isdigit() or not 1 <= int(count) <= 99:
        return None
    puts: dict[str, str] = {}
    deletes: list[str] = []
    for i in range(1, int(count) + 1):
        op = variables.get(f"WL_DB_OP{i}", "")
        key = variables.get(f"WL_DB_K{i}", "")
        value = variables.get(f"WL_DB_V{i}", "")
        if op not in ("put", "del") or not astdb_key_allowed(key):
            return None
        if op == "put" and not astdb_value_allowed(key, value):
            return None
        if op == "put":
            puts[key] = value
        else:
            deletes.append(key)
    return puts, deletes


def astdb_write(pbx: SimPbx, a: AmiMessage) -> bool:
    """Run the write if the Originate is one (True), answering its OriginateResponse."""
    dp = DIALPLAN
    if a.get("Channel") != f"Local/{dp.astdb_write}@{dp.astdb_context}":
        return False
    batch = _batch(_variables(a))
    common = [("Context", a.get("Context")), ("Exten", a.get("Exten"))]
    unknown = [("CallerIDNum", "<unknown>"), ("CallerIDName", "<unknown>")]
    if batch is None:
        pbx.emit(
            "OriginateResponse",
            [
                ("ActionID", a.action_id),
                ("Response", "Failure"),
                ("Channel", a.get("Channel")),
                *common,
                ("Reason", "0"),
                ("Uniqueid", "<unknown>"),
                *unknown,
            ],
        )
        return True
    puts, deletes = batch
    pbx.astdb.update(puts)
    for key in deletes:
        pbx.astdb.pop(key, None)
    local = pbx.local_run(f"{dp.astdb_write}@{dp.astdb_context}")
    pbx.emit(
        "OriginateResponse",
        [
            ("ActionID", a.action_id),
            ("Response", "Success"),
            ("Channel", local.name),
            *common,
            ("Reason", "4"),
            ("Uniqueid", local.uniqueid),
            *unknown,
        ],
    )
    return True
