"""``wardline pbx snapshot`` against a real Asterisk 22 on the generated configuration, with
no phone registered (issue 21: it exited 2, the empty contact list taken for a failure)."""

from __future__ import annotations

import json

import pytest

from tests.telephony.real_pbx import AMI_SECRET, RealPbx
from tests.telephony.test_cli_process import run

pytestmark = pytest.mark.asterisk


async def test_snapshot_of_a_pbx_with_no_phone_registered(real_pbx: RealPbx) -> None:
    code, out, err = await run("pbx", "snapshot", port=real_pbx.ami_port, secret=AMI_SECRET)
    assert code == 0, err
    data = json.loads(out.strip().splitlines()[-1])
    assert (data["calls"], data["parked"]) == ([], {})
    assert data["phones"] and set(data["phones"].values()) == {"unavailable"}
    assert all(ext.isdigit() for ext in data["phones"])  # the trunk is no phone
    assert "Traceback" not in err
