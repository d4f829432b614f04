"""The AstDB writes as the dialplan reads them (pure): pieces that fit an AMI line and MSet,
every key and value checked before anything is sent, the same rules read by the simulator."""

from __future__ import annotations

import re

import pytest

from telephony.config.dialplan import (
    DIALPLAN,
    astdb_delete_piece_rule,
    astdb_put_piece_rule,
    astdb_value_allowed,
)
from telephony.simulator.astdb import separate_args


def keys(beds: int) -> dict[str, str]:
    out: dict[str, str] = {}
    for i in range(beds):
        ext = str(2000 + i)
        out[f"bed/{ext}/active"] = "1"
        out[f"bed/{ext}/cidname"] = f"DUPRÉ-LÉGER{i} Hélène-Marie d'Arc"
        out[f"did/03881{i:05d}"] = ext
    return out


def test_pieces_fit_an_ami_line_and_mset_and_hold_every_key_once() -> None:
    puts = keys(700)
    deletes = [f"bed/{3000 + i}/dnd" for i in range(150)]
    writes = DIALPLAN.astdb_writes(puts, deletes)
    seen_puts: dict[str, str] = {}
    seen_deletes: list[str] = []
    for headers in writes:
        counts = dict(item.split("=") for item in headers[0].split(","))
        pieces = headers[1:]
        assert 0 < len(pieces) <= DIALPLAN.astdb_pieces
        assert int(counts["WL_DB_NP"]) + int(counts["WL_DB_ND"]) == len(pieces)
        for header in pieces:
            assert len(f"Variable: {header}\r\n".encode()) <= 1024
            (item,) = separate_args(header)  # the quotes keep the piece's commas
            name, _, piece = item.partition("=")
            is_put = name.startswith("WL_DB_P")
            rule = astdb_put_piece_rule() if is_put else astdb_delete_piece_rule()
            assert re.search(rule, piece), piece
            parts = separate_args(piece)
            assert len(parts) <= 99
            if is_put:
                for pair in parts:
                    key, value = separate_args(pair, "=", limit=2)
                    seen_puts[key.removeprefix("DB(").removesuffix(")")] = value
            else:
                seen_deletes += parts
    assert seen_puts == puts
    assert seen_deletes == deletes


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("secret/key", "1"),
        ("bed/2001/active", "yes"),
        ("bed/2001/cidname", "a,DB(secret/x)=1"),
        ("bed/2001/cidname", 'a"b'),
        ("bed/2001/cidname", "a(b"),
        ("bed/2001/cidname", "a[b]"),
        ("bed/2001/cidname", "a\\b"),
        ("bed/2001/cidname", "a=b"),
        ("bed/2001/cidname", "line\nbreak"),
        ("bed/2001/cidname", "é" * 81),  # 162 bytes
        ("did/0388", "20a1"),
    ],
)
def test_a_key_or_value_wardline_never_writes_is_refused_before_sending(
    key: str, value: str
) -> None:
    assert not astdb_value_allowed(key, value)
    with pytest.raises(ValueError):
        DIALPLAN.astdb_writes({"bed/2002/active": "1", key: value}, [])


def test_a_delete_of_a_key_wardline_does_not_own_is_refused() -> None:
    with pytest.raises(ValueError):
        DIALPLAN.astdb_writes({}, ["bed/2001/active", "secret/key"])
    assert DIALPLAN.astdb_writes({}, []) == []
