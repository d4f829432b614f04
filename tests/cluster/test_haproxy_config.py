"""The README's two-instance deployment: its HAProxy configuration is accepted by HAProxy 2.6
(Debian's) without a warning, and sends web and MLLP traffic to the service's ports."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.services import services_required
from wardline.settings import Settings

CONFIG = Path(__file__).resolve().parents[2] / "examples" / "haproxy-two-instances.cfg"


def haproxy() -> str:
    found = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin:/usr/local/sbin")
    if found is None:
        message = "haproxy is not installed (apt-get install haproxy)"
        if services_required():
            pytest.fail(message + " (WARDLINE_REQUIRE_SERVICES=1)")
        pytest.skip(message)
    return found


def test_haproxy_accepts_the_example_without_warnings() -> None:
    result = subprocess.run(
        [haproxy(), "-c", "-f", str(CONFIG)], capture_output=True, text=True, timeout=30
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Configuration file is valid" in output
    assert "WARNING" not in output and "ALERT" not in output, output


def test_the_example_sends_traffic_to_the_service_ports() -> None:
    defaults = Settings.model_fields
    text = CONFIG.read_text(encoding="utf-8")
    backends = dict(re.findall(r"^backend (\S+)\n(.*?)(?=^\S|\Z)", text, re.M | re.S))
    web_ports = set(re.findall(r"server \S+ [\d.]+:(\d+)", backends["wardline_web"]))
    mllp_ports = set(re.findall(r"server \S+ [\d.]+:(\d+)", backends["wardline_mllp"]))
    assert web_ports == {str(defaults["http_port"].default)}
    assert mllp_ports == {str(defaults["mllp_port"].default)}
    assert len(re.findall(r"^\s+server ", backends["wardline_web"], re.M)) >= 2
