"""The commands as separate processes: ``wardline pbx simulator`` serves AMI on its port;
``wardline pbx snapshot`` prints one JSON line, or one error line and exits 2."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from telephony.calls.actions import PbxActions
from telephony.calls.state import CallState
from tests.telephony.conftest import make_link

ROOT = Path(__file__).resolve().parents[2]
# The core wires each edge's register_cli into wardline.cli; until it does, do it here.
MAIN = (
    "import sys, wardline.cli as c; from telephony.cli import register_cli; "
    "c._edge_registrars = lambda: [register_cli]; sys.exit(c.main(sys.argv[1:]))"
)


def env(port: int, secret: str = "wardline-secret") -> dict[str, str]:
    return {
        **os.environ,
        "WARDLINE_AMI_PORT": str(port),
        "WARDLINE_AMI_SECRET": secret,
        "WARDLINE_LOG_FORMAT": "json",
        "WARDLINE_AMI_ACTION_TIMEOUT": "2",
    }


async def run(*args: str, port: int, secret: str = "wardline-secret") -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", MAIN, *args, cwd=ROOT, env=env(port, secret),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_simulator_command_then_snapshot_command(tmp_path: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", MAIN, "pbx", "simulator", "--port", "0", cwd=ROOT,
        env=env(0), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode()
        assert line.startswith("PBX simulator: AMI on 127.0.0.1:")
        port = int(line.split("127.0.0.1:")[1].split(",")[0])
        link = make_link(port)
        try:
            await link.start()
            await link.wait_synced(5)
            await PbxActions(link, CallState()).put("bed/2001", "active", "1")
        finally:
            await link.stop()
        code, out, _ = await run("pbx", "snapshot", port=port)
        assert code == 0
        data = json.loads(out.strip().splitlines()[-1])
        assert set(data) == {"calls", "phones", "queues", "parked"}
        assert data["phones"]["2001"] == "idle"
        code, out, err = await run("pbx", "snapshot", port=port, secret="wrong")
        assert code == 2 and out == ""
        errors = [line for line in err.splitlines() if line.startswith("wardline: error:")]
        assert len(errors) == 1 and "refused the AMI login" in errors[0]
        assert "Traceback" not in err
    finally:
        proc.terminate()
        await proc.wait()
    code, out, err = await run("pbx", "snapshot", port=port)
    assert code == 2 and "unreachable" in err and "Traceback" not in err


async def test_simulator_command_runs_an_inventory(tmp_path: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", MAIN, "pbx", "simulator", "--port", "0",
        "--inventory", str(ROOT / "examples" / "hospital-2000.yaml"), cwd=ROOT,
        env=env(0), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode()
        assert line.rstrip().endswith(", 2000 beds")
        port = int(line.split("127.0.0.1:")[1].split(",")[0])
        code, out, _ = await run("pbx", "snapshot", port=port)
        assert code == 0
        phones = json.loads(out.strip().splitlines()[-1])["phones"]
        assert phones["20001"] == "idle" and "2001" not in phones
    finally:
        proc.terminate()
        await proc.wait()
    bad = tmp_path / "bad.yaml"
    bad.write_text("hospital: [\n", encoding="utf-8")
    code, out, err = await run("pbx", "simulator", "--port", "0", "--inventory", str(bad), port=0)
    errors = [line for line in err.splitlines() if line.startswith("wardline: error:")]
    assert code == 2 and len(errors) == 1 and "bad.yaml" in errors[0]
    assert "Traceback" not in err
