"""Which ``context,exten`` the generated dialplan has: the simulator answers an action into
any other as Asterisk 22 does (``Extension does not exist.`` for an Originate). The context
names come from :data:`telephony.config.dialplan.DIALPLAN`, as the generated files and the
product's actions take them."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from telephony.config.dialplan import DIALPLAN

if TYPE_CHECKING:
    from telephony.simulator.pbx import SimPbx

# outside numbers of [wl-out-*] (local, national, international) and the emergency numbers
_OUTSIDE = re.compile(r"^(0[1-9][0-9]{8}|00[0-9]+|1[0-9]{1,2})$")


def internal(pbx: SimPbx, exten: str) -> bool:
    """An extension of [wl-internal] and [wl-always]: phones, nurse calls, the queue and the
    switchboard number, the parking extension and its spaces."""
    inv = pbx.inventory
    return (
        exten in pbx.phones
        or exten in inv.nurse_calls
        or exten in inv.queue_extensions
        or exten == inv.parking_extension
        or exten in inv.parking_spaces
    )


def exists(pbx: SimPbx, context: str, exten: str) -> bool:
    dp = DIALPLAN
    if context == dp.staff_context:
        return internal(pbx, exten) or bool(_OUTSIDE.match(exten))
    if context == dp.bed_context:
        return exten.isdigit()
    if context == dp.trunk_context:
        return exten.isdigit() and len(exten) >= 2
    if context == dp.queue_context:
        return exten == "s"
    if context == dp.parking_context:
        inv = pbx.inventory
        return exten == inv.parking_extension or exten in inv.parking_spaces
    if context == dp.nurse_ring_context:
        return exten.isdigit()
    if context == dp.nurse_answered_context:
        return exten == dp.nurse_answered_exten
    if context == dp.astdb_context:
        return exten in (dp.astdb_write, dp.astdb_done)
    return False
