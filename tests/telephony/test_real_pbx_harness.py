"""The real-PBX harness itself: the generated configuration boots a real Asterisk, the
generated AMI account logs in, and a sipp phone registers with its generated password."""

from __future__ import annotations

import pytest

from tests.telephony.real_pbx import RawAmi, RealPbx, SipPhone, skip_reason

pytestmark = pytest.mark.asterisk


async def test_a_phone_registers_on_the_generated_configuration(real_pbx: RealPbx) -> None:
    ami = await RawAmi.login(real_pbx.ami_port)
    try:
        phone = await SipPhone(real_pbx, "2001").register()
        try:
            listed = await ami.action("DeviceStateList")
            assert listed.get("Response") == "Success"
            state = await ami.wait_event("DeviceStateChange", Device="PJSIP/2001")
            assert state.get("State") == "NOT_INUSE"
        finally:
            await phone.stop()
    finally:
        await ami.close()


def test_without_the_binary_the_tests_say_why(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WARDLINE_TEST_ASTERISK", raising=False)
    reason = skip_reason()
    assert reason is not None and "WARDLINE_TEST_ASTERISK" in reason
