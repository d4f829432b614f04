"""The first hour of a new user, as processes: every expected mistake gets one line and exit
2, the help is there without asking, and a service stops without an error line."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import EXAMPLE_HOSPITAL
from tests.core.test_cli_and_service import run
from tests.services import need_postgres

WARDLINE = [sys.executable, "-m", "wardline"]


def _one_line(result: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert result.returncode == 2, result
    err = result.stderr.strip()
    assert "Traceback" not in err, err
    assert len(err.splitlines()) == 1, err
    for needle in needles:
        assert needle in err, err
    return err


def test_bare_command_prints_the_help_and_version(tmp_path: Path) -> None:
    bare = run([], tmp_path)
    assert bare.returncode == 0 and "COMMAND" in bare.stdout and "serve" in bare.stdout
    version = run(["--version"], tmp_path)
    assert version.returncode == 0 and version.stdout.startswith("wardline ")
    serve_help = run(["serve", "--help"], tmp_path)
    assert "WARDLINE_" in serve_help.stdout


@pytest.mark.postgres
def test_database_that_refuses_is_one_line(tmp_path: Path) -> None:
    need_postgres()
    for url, needle in (
        ("postgresql+asyncpg://postgres@127.0.0.1:5432/wl_no_such_db", "wl_no_such_db"),
        ("postgresql+asyncpg://wl_no_such_role@127.0.0.1:5432/test", "wl_no_such_role"),
    ):
        for command in (["db", "upgrade"], ["serve"], ["audit", "verify"]):
            result = run(command, tmp_path, WARDLINE_DATABASE_URL=url, WARDLINE_HTTP_PORT="0")
            _one_line(result, needle, "database")


def test_commands_before_the_schema_create_nothing(tmp_path: Path) -> None:
    credential = run(["terminal", "credential", "T-CARDIO-101-A"], tmp_path)
    _one_line(credential, "wardline db upgrade")
    load = run(["inventory", "load", str(EXAMPLE_HOSPITAL)], tmp_path)
    _one_line(load, "wardline db upgrade")
    assert not (tmp_path / "data" / "wardline.db").exists()


def test_user_add_mistakes(tmp_path: Path) -> None:
    assert run(["db", "upgrade"], tmp_path).returncode == 0
    assert run(["inventory", "load", str(EXAMPLE_HOSPITAL)], tmp_path).returncode == 0
    no_tty = run(["user", "add", "x.y", "--name", "X Y", "--role", "admin"], tmp_path)
    _one_line(no_tty, "--password-stdin")
    ward = run(
        [
            "user",
            "add",
            "n.z",
            "--name",
            "N Z",
            "--role",
            "nurse",
            "--ward",
            "NOPE",
            "--password-stdin",
        ],
        tmp_path,
        stdin="a long password\n",
    )
    _one_line(ward, "NOPE")


def test_setting_errors_name_the_variable(tmp_path: Path) -> None:
    result = run(["db", "upgrade"], tmp_path, WARDLINE_HTTP_PORT="x", WARDLINE_AMI_PORT="y")
    err = _one_line(result, "WARDLINE_HTTP_PORT", "WARDLINE_AMI_PORT")
    assert "http_port:" not in err


def test_inventory_file_reports_every_problem(tmp_path: Path) -> None:
    text = EXAMPLE_HOSPITAL.read_text(encoding="utf-8")
    bad = tmp_path / "bad.yaml"
    # two independent mistakes: a bed extension that is not digits, a terminal id too long
    bad.write_text(
        text.replace("extension: '", "extension: 'x", 1).replace(
            "terminal: T-", "terminal: " + "T" * 80 + "-", 1
        ),
        encoding="utf-8",
    )
    result = run(["inventory", "load", str(bad)], tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "2 problems" in result.stderr or result.stderr.count("bad.yaml:") >= 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_port_in_use_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run(
            ["serve"],
            tmp_path,
            WARDLINE_HTTP_PORT=str(port),
            WARDLINE_AMI_ENABLED="false",
            WARDLINE_MQTT_ENABLED="false",
            WARDLINE_MLLP_ENABLED="false",
        )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "cannot listen" in result.stderr and "WARDLINE_HTTP_PORT" in result.stderr


ERROR_MARKERS = ("Traceback", '"level": "error"', '"level": "critical"', "Exception", "[error")


@pytest.mark.parametrize("moment", ["starting", "listening", "running"])
async def test_serve_stops_without_an_error_line(tmp_path: Path, moment: str) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("WARDLINE_")}
    env = {
        **clean,
        "WARDLINE_HTTP_PORT": str(_free_port()),
        "WARDLINE_MLLP_PORT": str(_free_port()),
        "WARDLINE_AMI_PORT": str(_free_port()),  # nothing there: the link retries
        "WARDLINE_LOG_FORMAT": "json",
    }
    proc = await asyncio.create_subprocess_exec(
        *WARDLINE, "serve", cwd=tmp_path, env=env, stderr=asyncio.subprocess.PIPE
    )
    assert proc.stderr is not None
    seen: list[str] = []
    try:
        async with asyncio.timeout(60):
            want = {"starting": "database.open", "listening": "web.listening"}.get(
                moment, "web.listening"
            )
            while not any(want in line for line in seen):
                line = (await proc.stderr.readline()).decode()
                assert line, "serve exited early:\n" + "".join(seen)
                seen.append(line)
            if moment == "running":
                await asyncio.sleep(2)
        proc.send_signal(signal.SIGTERM)
        _, rest = await asyncio.wait_for(proc.communicate(), 30)
        seen.extend(rest.decode().splitlines(keepends=True))
        assert proc.returncode == 0, "".join(seen)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    output = "".join(seen)
    assert not [m for m in ERROR_MARKERS if m in output], output
    assert any("web.listening" in line and "http://" in line for line in seen) or (
        moment == "starting"
    )
    assert "service.stopped" in output


def test_every_command_says_what_it_does_and_reads() -> None:
    from wardline.cli import _children, build_parser

    parser = build_parser()
    commands = _children(parser)
    assert len(commands) > 15
    for command in commands:
        text = command.format_help()
        has_actions = command._subparsers is not None
        assert has_actions or "WARDLINE_" in text or "Settings read" in text, command.prog
        for action in command._actions:
            if (action.option_strings and action.dest != "help") or (
                not action.option_strings and not has_actions
            ):
                assert action.help, f"{command.prog}: {action.dest} has no help"
