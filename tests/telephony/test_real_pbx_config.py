"""The generated configuration on a real Asterisk 22: it loads with no error or warning, and
every module, context, feature code and tone it names is there."""

from __future__ import annotations

import pytest

from telephony.config.dialplan import DIALPLAN
from tests.telephony.real_pbx import RealPbx

pytestmark = pytest.mark.asterisk


async def test_generated_configuration_loads_without_error_or_warning(real_pbx: RealPbx) -> None:
    assert real_pbx.problems() == []
    modules = real_pbx.cli("module show")
    for needed in (
        "chan_pjsip.so",
        "app_queue.so",
        "res_parking.so",
        "func_db.so",
        "bridge_builtin_features.so",
        "res_musiconhold.so",
    ):
        assert needed in modules, needed
    for never in ("res_ari.so", "app_voicemail.so", "app_system.so", "func_shell.so"):
        assert never not in modules, never
    contexts = real_pbx.cli("dialplan show")
    for context in (
        DIALPLAN.staff_context,
        DIALPLAN.bed_context,
        DIALPLAN.trunk_context,
        DIALPLAN.queue_context,
        DIALPLAN.astdb_context,
        DIALPLAN.parking_context,
    ):
        assert f"'{context}'" in contexts, context
    features = real_pbx.cli("features show")
    assert DIALPLAN.feature_atxfer in features and DIALPLAN.feature_blindxfer in features
    assert "wardline-trunk-identify" in real_pbx.cli("pjsip show identifies")
    assert "default" in real_pbx.cli("moh show classes")
    assert real_pbx.settings().asterisk_tone_zone in real_pbx.cli("indication show")
    assert "live_dangerously" not in real_pbx.log_text()
    # still nothing to complain about once everything is loaded and a while has passed
    assert real_pbx.problems() == []
