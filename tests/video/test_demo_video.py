"""The demo turns video on when Janus and coturn are installed (its readiness says Janus
answers) and says how to enable it when they are not."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import aiohttp

from tests.video.gateways import need_binary
from wardline.demo import DemoOptions, start_demo, video_line


async def test_the_demo_runs_janus_and_coturn_when_installed(tmp_path: Path) -> None:
    need_binary("janus", "janus")
    need_binary("turnserver", "coturn")
    options = DemoOptions(port=0, scenario=False, data_dir=tmp_path / "demo", beds=20)
    async with start_demo(options) as demo:
        assert demo.video and demo.settings.video_enabled
        async with aiohttp.ClientSession() as http, http.get(demo.base_url + "/readyz") as r:
            ready = await r.json()
        assert ready["checks"]["video"]["state"] == "up", ready
        assert ready["checks"]["video"]["janus"]
        assert "on (Janus, coturn)" in video_line(demo, options)
        secret = demo.settings.janus_api_secret
        assert secret is not None and secret.get_secret_value() not in video_line(demo, options)
        assert "video" in str((tmp_path / "demo" / "video" / "janus.jcfg").read_text())
    off = replace(demo, video=False)
    assert "apt-get install janus coturn" in video_line(off, options)
    assert "--no-video" in video_line(off, replace(options, video=False))
