"""`wardline demo` starts the whole hospital on embedded parts; its scenario admits over MLLP
and the terminal of the bed gets the patient's context over MQTT."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

import aiohttp
import aiomqtt
import pytest

from ehr_bridge.identity import IdentityToBeChecked
from wardline import appkeys as k
from wardline.demo import DemoOptions, start_demo
from wardline.demo_scenario import Scenario, demo_beds


async def retained(port: int, topic: str, timeout: float = 5.0) -> bytes | None:  # noqa: ASYNC109
    async with aiomqtt.Client("127.0.0.1", port, identifier="test-reader") as client:
        await client.subscribe(topic, qos=1)
        try:
            async with asyncio.timeout(timeout):
                async for message in client.messages:
                    return bytes(message.payload)  # type: ignore[arg-type]
        except TimeoutError:
            return None
    return None


async def test_demo_parts_ready_and_admission_reaches_the_terminal(tmp_path: Path) -> None:
    import random

    options = DemoOptions(port=0, scenario=False, data_dir=tmp_path / "demo")
    async with start_demo(options) as demo:
        names = ("database", "pbx", "mqtt", "ehr_adt", "ehr_fhir")
        async with aiohttp.ClientSession() as http:
            for _ in range(100):  # the MQTT edge is "degraded" until its first resync
                async with http.get(f"{demo.base_url}/readyz") as r:
                    body = await r.json()
                if all(body["checks"][n]["state"] == "up" for n in names):
                    break
                await asyncio.sleep(0.1)
        assert r.status == 200, body
        for name in names:
            assert body["checks"][name]["state"] == "up", (name, body["checks"][name])
        scenario = Scenario(demo, random.Random(7))
        scenario.beds = await demo_beds(demo)
        await scenario.admit(scenario.beds[0])
        ((_visit, admitted),) = scenario.admitted.items()
        topic = f"wardline/v1/terminal/{scenario.beds[0].terminal}/context"
        payload = None
        for _ in range(50):
            payload = await retained(demo.broker_port, topic, timeout=0.5)
            if payload:
                break
        assert payload, "no retained context for the admitted bed"
        context = json.loads(payload)
        assert admitted.patient.given in json.dumps(context, ensure_ascii=False)

        # The corpus is served by the demo's sandbox and admitted over ADT (UTF-8 names).
        await scenario.admit_corpus()
        assert {"8000011", "8000021", "8000031"} <= set(scenario.admitted)
        record_port = demo.app[k.CLINICAL_RECORD]
        helene = await demo.app[k.STAYS].stay_by_visit("8000011")
        assert helene is not None and helene.patient.family_name == "Lefèvre-Bérard"
        record = await record_port.record_for_stay(helene)
        assert "Pénicillines" in {a.substance for a in record.patient.allergies}
        francois = await demo.app[k.STAYS].stay_by_visit("8000021")
        assert francois is not None
        with pytest.raises(IdentityToBeChecked):
            await record_port.record_for_stay(francois)
        assert [a.visit_number for a in record_port.identity_alerts()] == ["8000021"]
        await scenario.sender.close()


async def test_demo_command_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("WARDLINE_")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "wardline",
        "demo",
        "--port",
        "0",
        "--scenario",
        "off",
        "--data-dir",
        str(tmp_path / "demo"),
        cwd=tmp_path,
        env=clean,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    seen = b""
    async with asyncio.timeout(90):
        while b"Ctrl-C stops everything" not in seen:
            line = await proc.stdout.readline()
            assert line, "demo exited early"
            seen += line
    assert b"/console" in seen and b"standard-demo" in seen
    proc.send_signal(signal.SIGINT)
    assert await asyncio.wait_for(proc.wait(), 30) == 0


ERROR_MARKERS = ("Traceback", "error", "Error", "exception", "Exception")


async def _start_demo_process(
    data_dir: Path, *extra: str
) -> tuple[asyncio.subprocess.Process, list[str]]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("WARDLINE_")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "wardline",
        "demo",
        "--port",
        "0",
        "--data-dir",
        str(data_dir),
        *extra,
        cwd=data_dir.parent,
        env=clean,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    return proc, []


async def _read_until(proc: asyncio.subprocess.Process, seen: list[str], marker: str) -> None:
    assert proc.stdout is not None
    async with asyncio.timeout(120):
        while not any(marker in line for line in seen):
            line = (await proc.stdout.readline()).decode()
            assert line, "demo exited early:\n" + "".join(seen)
            seen.append(line)


async def _stop(proc: asyncio.subprocess.Process, seen: list[str], sig: int) -> str:
    proc.send_signal(sig)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    seen.append(out.decode())
    assert proc.returncode == 0, (proc.returncode, err.decode())
    return err.decode()


@pytest.mark.parametrize(
    ("moment", "sig"),
    [("starting", signal.SIGINT), ("banner", signal.SIGTERM), ("running", signal.SIGINT)],
)
async def test_demo_stops_with_nothing_but_stopped(tmp_path: Path, moment: str, sig: int) -> None:
    proc, seen = await _start_demo_process(tmp_path / "demo")
    try:
        await _read_until(proc, seen, "First start" if moment == "starting" else "Ctrl-C stops")
        if moment == "running":
            await asyncio.sleep(6)  # admissions, calls and nurse calls under way
        err = await _stop(proc, seen, sig)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    out = "".join(seen)
    assert out.rstrip().endswith("stopped"), out
    assert not [m for m in ERROR_MARKERS if m in err], err
    assert "cluster.lease" not in err, err  # the one instance hands its leases back quietly
    after_banner = out.split("Ctrl-C stops everything.")[-1]
    assert after_banner.split() in (["stopping…", "stopped"], []) or moment == "starting", out


async def test_demo_keeps_its_data_and_guards_its_directory(tmp_path: Path) -> None:
    data = tmp_path / "demo"
    first, seen = await _start_demo_process(data, "--scenario", "off")
    try:
        await _read_until(first, seen, "Ctrl-C stops")
        assert "First start" in seen[0]
        second, _ = await _start_demo_process(data, "--scenario", "off")
        _, err2 = await asyncio.wait_for(second.communicate(), 60)
        assert second.returncode == 2 and "another demo is running" in err2.decode()
        await _stop(first, seen, signal.SIGINT)
    finally:
        if first.returncode is None:
            first.kill()
            await first.wait()
    assert (data / "wardline.db").exists() and (data / "demo.log").stat().st_size > 0
    foreign = tmp_path / "papers"
    foreign.mkdir()
    (foreign / "thesis.txt").write_text("mine")
    refused, _ = await _start_demo_process(foreign)
    _, err = await asyncio.wait_for(refused.communicate(), 60)
    assert refused.returncode == 2 and "not made by the demo" in err.decode()
    assert (foreign / "thesis.txt").read_text() == "mine"
    for args, expected in ((("--scenario", "off"), "kept in"), (("--fresh",), "First start")):
        again, seen3 = await _start_demo_process(data, *args, "--scenario", "off")
        try:
            await _read_until(again, seen3, "Ctrl-C stops")
            assert expected in seen3[0], seen3
            await _stop(again, seen3, signal.SIGTERM)
        finally:
            if again.returncode is None:
                again.kill()
                await again.wait()


@pytest.mark.browser
async def test_banner_links_open_what_they_name(tmp_path: Path) -> None:
    from tests.web.browser import launch_chromium

    options = DemoOptions(port=0, scenario=False, data_dir=tmp_path / "demo")
    async with start_demo(options) as demo, launch_chromium() as browser:
        context = await browser.new_context()
        page = await context.new_page()
        await page.goto(demo.tv_link)
        await page.wait_for_url(f"{demo.base_url}/tv", timeout=15000)
        assert "credential=" not in page.url
        await page.locator("[data-go=staff]").first.wait_for(timeout=15000)
        staff = await (await browser.new_context()).new_page()
        for path in ("/console", "/admin"):
            response = await staff.goto(demo.base_url + path)
            assert response is not None and response.status == 200  # the sign-in step
            assert "/signin" in staff.url or staff.url.endswith(path)
