"""State fixes of issue 21: the trunk and Wardline's own AstDB writes are never phones or
calls, the operator leaves a call they transferred, a call answered by the dialplan is no
longer dialing, and a console dial shows the dialled extension."""

from __future__ import annotations

import pytest

from telephony.calls.model import dialled_extension, not_a_call, phone_of_channel, phone_of_device
from telephony.errors import PbxActionFailed
from tests.services import wait_until
from tests.telephony.conftest import Lab
from wardline.domain import call_events as ev


def test_the_trunk_and_local_channels_are_not_phones() -> None:
    assert phone_of_channel("PJSIP/wardline-trunk-0000002a") is None
    assert phone_of_device("PJSIP/wardline-trunk") is None
    assert phone_of_channel("Local/2001@from-staff-00000001;1") is None
    assert phone_of_channel("PJSIP/2001-0000000a") == "2001"
    assert phone_of_device("PJSIP/9000") == "9000"
    assert not_a_call("Local/write@wl-astdb-00000003;2")
    assert not not_a_call("Local/2001@wl-nurse-ring-00000003;1")
    assert dialled_extension("PJSIP/2002") == "2002"
    assert dialled_extension("2002@from-staff") == "2002"
    assert dialled_extension("s") is None


async def test_the_operator_leaves_the_call_they_blind_transferred(lab: Lab) -> None:
    call_id = lab.sim.external_call(to="8000", caller="0612345678", name="Hélène Dupré")
    await wait_until(lambda: lab.session.state.snapshot().queues.get("switchboard") == (call_id,))
    lab.sim.answer("9000")
    await wait_until(lambda: lab.of(ev.CallAnswered))
    await lab.session.actions.transfer_blind(call_id, "2003", operator="9000")
    await wait_until(lambda: lab.sim.ringing("2003") is not None)
    lab.sim.answer("2003")

    def view() -> object:
        return next(c for c in lab.session.state.snapshot().calls if c.call_id == call_id)

    await wait_until(lambda: "2003" in view().extensions)  # type: ignore[attr-defined]
    await wait_until(lambda: "9000" not in view().extensions)  # type: ignore[attr-defined]
    assert view().handled_by is None  # type: ignore[attr-defined]
    lab.sim.hangup(call_id)
    await wait_until(lambda: lab.of(ev.CallEnded))
    record = lab.of(ev.CallEnded)[0]
    assert "9000" in record.extensions and "2003" in record.extensions  # type: ignore[attr-defined]


async def test_a_console_dial_shows_the_dialled_extension(lab: Lab) -> None:
    call_id = await lab.session.actions.call_bed("9000", "2002")
    await wait_until(lambda: call_id in lab.session.state.calls)
    assert lab.session.state.calls[call_id].called_extension == "2002"
    assert call_id not in lab.session.state.dialling  # taken when its call appeared


async def test_parking_a_call_the_operator_is_not_on_is_refused(lab: Lab) -> None:
    """Asterisk would take the caller's peer (the trunk, here bed 2002) as the parker."""
    call_id = lab.sim.dial("2001", "2002")
    lab.sim.answer("2002")
    await wait_until(lambda: lab.of(ev.CallAnswered))
    with pytest.raises(PbxActionFailed, match="not on this call"):
        await lab.session.actions.park(call_id, operator="9000")
    assert lab.sim.parked() == {} and lab.session.state.parked == {}
    assert lab.session.state.calls[call_id].handled_by is None
