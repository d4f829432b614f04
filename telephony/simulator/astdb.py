"""Wardline's AstDB writes as the generated dialplan runs them: an Originate of
``Local/<astdb_write>@<astdb_context>`` carrying ``WL_DB_NP`` pieces of puts ``WL_DB_P<i>`` and
``WL_DB_ND`` pieces of deletes ``WL_DB_D<i>``. The ``Variable`` headers are read as Asterisk
reads them (:func:`separate_args`: quotes, parentheses, brackets, backslashes); every piece is
checked whole with the rules the dialplan is rendered from (:mod:`telephony.config.dialplan`),
then a piece of puts is split as ``MSet`` splits it. One refused piece refuses the write
(OriginateResponse Failure, nothing written), as on Asterisk 22."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from telephony.ami.frames import AmiMessage
from telephony.config.dialplan import (
    DIALPLAN,
    astdb_delete_piece_rule,
    astdb_put_piece_rule,
)

if TYPE_CHECKING:
    from telephony.simulator.pbx import SimPbx

_COUNT = re.compile(r"[0-9]{1,2}")


def separate_args(
    text: str, delim: str = ",", *, remove_chars: bool = True, limit: int = 0
) -> list[str]:
    """Asterisk's ``__ast_app_separate_args`` (main/app.c): split on ``delim`` outside
    parentheses, brackets and (unless ``delim`` is a quote) double quotes; with
    ``remove_chars`` the quotes are dropped and a backslash is dropped, the character after it
    taken literally. With ``limit`` (the size of the argument array), the last argument is the
    rest of the text, untouched."""
    out: list[str] = []
    current: list[str] = []
    paren = bracket = 0
    quote = False
    i = start = 0
    while i < len(text):
        if limit and len(out) == limit - 1 and i == start:
            out.append(text[i:])
            return out
        char = text[i]
        if char == "(":
            paren += 1
        elif char == ")":
            paren = max(0, paren - 1)
        elif char == "[":
            bracket += 1
        elif char == "]":
            bracket = max(0, bracket - 1)
        elif char == '"' and delim != '"':
            quote = not quote
            if remove_chars:
                i += 1
                continue
        elif char == "\\":
            if not remove_chars:
                current.append(char)
            i += 1
            if i < len(text):
                current.append(text[i])
            i += 1
            continue
        elif char == delim and not paren and not quote and not bracket:
            out.append("".join(current))
            current = []
            i = start = i + 1
            if i == len(text):
                out.append("")
            continue
        current.append(char)
        i += 1
    if current:
        out.append("".join(current))
    return out


def _variables(a: AmiMessage) -> dict[str, str]:
    """The channel variables of an Originate, as manager.c reads its ``Variable`` headers."""
    out: dict[str, str] = {}
    for header in a.get_all("Variable"):
        for item in separate_args(header.lstrip()):
            name, sep, value = item.partition("=")
            if sep and name:
                out[name] = value
    return out


def _batch(variables: dict[str, str]) -> tuple[dict[str, str], list[str]] | None:
    """(puts, deletes), or None when the dialplan would refuse the write."""
    puts_count, deletes_count = variables.get("WL_DB_NP", ""), variables.get("WL_DB_ND", "")
    if not (_COUNT.fullmatch(puts_count) and _COUNT.fullmatch(deletes_count)):
        return None
    if int(puts_count) + int(deletes_count) == 0:
        return None
    put_pieces = [variables.get(f"WL_DB_P{i}", "") for i in range(1, int(puts_count) + 1)]
    delete_pieces = [variables.get(f"WL_DB_D{i}", "") for i in range(1, int(deletes_count) + 1)]
    put_rule, delete_rule = astdb_put_piece_rule(), astdb_delete_piece_rule()
    if not all(re.search(put_rule, piece) for piece in put_pieces):
        return None
    if not all(re.search(delete_rule, piece) for piece in delete_pieces):
        return None
    puts: dict[str, str] = {}
    for piece in put_pieces:  # MSet: up to 99 name=value pairs, DB(<key>) names
        for pair in separate_args(piece, limit=99):
            parts = separate_args(pair, "=", limit=2)
            if len(parts) == 2:  # MSet ignores an entry with no '='
                puts[parts[0].removeprefix("DB(").removesuffix(")")] = parts[1]
    deletes = [key for piece in delete_pieces for key in piece.split(",")]
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
