"""Which ``context,exten`` the generated dialplan has (read from the configuration Wardline
generates for the simulator's hospital, :mod:`telephony.simulator.generated`): the simulator
answers an action into any other as Asterisk 22 does (``Extension does not exist.`` for an
Originate; a Redirect or a blind transfer succeeds, then the channel sent there is hung up;
an attended transfer puts the caller on hold and back)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from telephony.simulator.pbx import SimPbx


def exists(pbx: SimPbx, context: str, exten: str) -> bool:
    """Whether Asterisk, loaded with the generated configuration, finds ``context,exten,1``."""
    return pbx.dialplan.exists(context, exten)
