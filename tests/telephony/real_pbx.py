"""A real Asterisk for the opt-in ``asterisk`` tests: the generated configuration in a temporary
directory, loopback ports chosen free, started in the foreground as this user, stopped at the
end; SIP phones played by sipp and registered against the generated PJSIP accounts.

The binary is named by ``WARDLINE_TEST_ASTERISK`` (``/opt/asterisk22/sbin/asterisk``); its
modules are looked up beside it (``<prefix>/lib/asterisk/modules``, or
``WARDLINE_TEST_ASTERISK_MODULES``), its sounds in ``<prefix>/var/lib/asterisk``. Nothing here
touches a system-wide Asterisk: every directory (etc, run, spool, log, AstDB) is the test's own.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import shutil
import socket
import struct
import subprocess
import wave
from dataclasses import dataclass, field
from pathlib import Path

from telephony.ami.frames import AmiMessage, FrameDecoder
from telephony.config.files import RECORDINGS, AsteriskSettings, Passwords, render
from telephony.config.plan import PbxPlan, plan_from_file
from tests.conftest import EXAMPLE_HOSPITAL
from wardline.domain.inventory_file import read_inventory

ASTERISK_ENV = "WARDLINE_TEST_ASTERISK"
MODULES_ENV = "WARDLINE_TEST_ASTERISK_MODULES"
SIPP = shutil.which("sipp") or "/usr/bin/sipp"
SCENARIOS = Path(__file__).parent / "sipp"
AMI_USER = "wardline"
AMI_SECRET = "real-pbx-test-secret"
SIP_SEED = "real-pbx-test-seed"


SITE_FILES = {
    "logger.conf": "[general]\ndateformat = %F %T.%3q\n\n[logfiles]\n"
    "messages.log => notice,warning,error,verbose(3)\n",
    "cdr.conf": "[general]\nenable = no\n",
    "cel.conf": "[general]\nenable = no\n",
    "ccss.conf": "[general]\n",
    "acl.conf": "",
    "udptl.conf": "[general]\n",
    "pjproject.conf": "[startup]\n",
}
"""The files a site's /etc/asterisk has beside the generated ones (Asterisk's core reads
them; Wardline does not generate them): minimal versions."""


def asterisk_binary() -> Path | None:
    value = os.environ.get(ASTERISK_ENV, "").strip()
    return Path(value) if value else None


def skip_reason() -> str | None:
    """Why the real-PBX tests cannot run here, or None when they can."""
    binary = asterisk_binary()
    if binary is None:
        return f"set {ASTERISK_ENV} to an Asterisk 22 binary to run the real-PBX tests"
    if not binary.is_file() or not os.access(binary, os.X_OK):
        return f"{ASTERISK_ENV}={binary} is not an executable file"
    if not modules_dir(binary).is_dir():
        return f"no Asterisk modules at {modules_dir(binary)} (set {MODULES_ENV})"
    if not Path(SIPP).is_file():
        return "sipp is not installed (Debian package sip-tester)"
    return None


def modules_dir(binary: Path) -> Path:
    explicit = os.environ.get(MODULES_ENV, "").strip()
    return Path(explicit) if explicit else binary.parent.parent / "lib" / "asterisk" / "modules"


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A port free on 127.0.0.1 for both TCP and UDP (SIP listens on UDP, AMI on TCP)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, kind) as first:
            first.bind(("127.0.0.1", 0))
            port = int(first.getsockname()[1])
            other = socket.SOCK_DGRAM if kind == socket.SOCK_STREAM else socket.SOCK_STREAM
            with socket.socket(socket.AF_INET, other) as second:
                try:
                    second.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port
    raise RuntimeError("no free loopback port")


def example_plan() -> PbxPlan:
    return plan_from_file(read_inventory(EXAMPLE_HOSPITAL))


@dataclass
class RealPbx:
    """One Asterisk process on the generated configuration (see the module docstring)."""

    root: Path
    binary: Path
    plan: PbxPlan = field(default_factory=example_plan)
    ami_port: int = field(default_factory=free_port)
    sip_port: int = field(default_factory=lambda: free_port(socket.SOCK_DGRAM))
    trunk_port: int = field(default_factory=lambda: free_port(socket.SOCK_DGRAM))
    """The trunk's contact port (calls from the trunk come from 127.0.0.1, any port)."""
    process: asyncio.subprocess.Process | None = None
    files: dict[str, str] = field(default_factory=dict)

    @property
    def etc(self) -> Path:
        return self.root / "etc"

    @property
    def conf(self) -> Path:
        return self.etc / "asterisk.conf"

    @property
    def log_file(self) -> Path:
        return self.root / "log" / "messages.log"

    @property
    def passwords(self) -> Passwords:
        return Passwords(self.root, SIP_SEED)

    def settings(self) -> AsteriskSettings:
        return AsteriskSettings(
            asterisk_sip_secret_seed=SIP_SEED,  # type: ignore[arg-type]
            asterisk_manager_bind="127.0.0.1",
            asterisk_manager_port=self.ami_port,
            asterisk_manager_permit="127.0.0.1",
            asterisk_sip_bind=f"127.0.0.1:{self.sip_port}",
            asterisk_trunk_host=f"127.0.0.1:{self.trunk_port}",
        )

    # --- configuration --------------------------------------------------------------------
    def write_config(self) -> None:
        """The untouched output of the generator, plus asterisk.conf and logger.conf."""
        for sub in ("etc", "run", "spool", "log", "lib", "db"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self.files = render(self.plan, self.passwords, self.settings(), AMI_USER, AMI_SECRET)
        for name, text in self.files.items():
            (self.etc / name).write_text(text, encoding="utf-8")
        data_dir = self._data_dir()
        generated = self.files.get("asterisk.conf", "[options]\n")
        self.conf.write_text(
            generated.rstrip("\n") + "\n"
            "verbose = 3\n"
            "debug = 0\n"
            "nocolor = yes\n"
            "\n[directories]\n"
            f"astetcdir => {self.etc}\n"
            f"astmoddir => {modules_dir(self.binary)}\n"
            f"astvarlibdir => {self.root / 'lib'}\n"
            f"astdbdir => {self.root / 'db'}\n"
            f"astkeydir => {self.root / 'lib'}\n"
            f"astdatadir => {data_dir}\n"
            f"astagidir => {self.root / 'lib' / 'agi-bin'}\n"
            f"astspooldir => {self.root / 'spool'}\n"
            f"astrundir => {self.root / 'run'}\n"
            f"astlogdir => {self.root / 'log'}\n"
            f"astsbindir => {self.binary.parent}\n",
            encoding="utf-8",
        )
        for name, text in SITE_FILES.items():
            (self.etc / name).write_text(text, encoding="utf-8")

    def _data_dir(self) -> Path:
        """astdatadir: the installed one's entries, plus the site's recordings (a short tone
        each, as a site would record them) and music on hold."""
        data_dir = self.root / "data"
        installed = self.binary.parent.parent / "var" / "lib" / "asterisk"
        data_dir.mkdir(exist_ok=True)
        if installed.is_dir():
            for entry in installed.iterdir():
                if entry.name not in ("sounds", "moh") and not (data_dir / entry.name).exists():
                    (data_dir / entry.name).symlink_to(entry)
        sounds = data_dir / "sounds" / "en"
        sounds.mkdir(parents=True, exist_ok=True)
        for name in RECORDINGS:
            _tone(sounds / f"{name}.wav", seconds=0.5)
        moh = data_dir / self.settings().asterisk_moh_directory
        moh.mkdir(parents=True, exist_ok=True)
        _tone(moh / "wardline-hold.wav", seconds=2.0)
        return data_dir

    # --- process --------------------------------------------------------------------------
    async def start(self, within: float = 60.0) -> RealPbx:
        if not self.files:
            self.write_config()
        out = os.open(self.root / "log" / "console.out", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        try:
            self.process = await asyncio.create_subprocess_exec(
                str(self.binary), "-f", "-n", "-C", str(self.conf),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out,
                stderr=asyncio.subprocess.STDOUT,
                cwd=self.root,
            )  # fmt: skip
        finally:
            os.close(out)
        await self.wait_booted(within)
        return self

    async def wait_booted(self, within: float) -> None:
        """Until AMI accepts the generated user and Asterisk says it is fully booted."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        last: Exception | None = None
        while loop.time() < deadline:
            if self.process is not None and self.process.returncode is not None:
                raise RuntimeError(f"Asterisk exited ({self.process.returncode}):\n{self.tail()}")
            try:
                if await self._fully_booted():
                    return
            except (OSError, TimeoutError, ConnectionError) as exc:
                last = exc
            await asyncio.sleep(0.2)
        raise TimeoutError(f"Asterisk did not boot in {within} s ({last}):\n{self.tail()}")

    async def _fully_booted(self) -> bool:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.ami_port)
        try:
            async with asyncio.timeout(5):
                await reader.readline()  # banner
                writer.write(
                    f"Action: Login\r\nUsername: {AMI_USER}\r\nSecret: {AMI_SECRET}\r\n"
                    "Events: system\r\n\r\n".encode()
                )
                text = ""
                while "FullyBooted" not in text:
                    chunk = await reader.read(4096)
                    if not chunk:
                        return False
                    text += chunk.decode("utf-8", "replace")
                    if "Response: Error" in text:
                        raise ConnectionError(text)
                return True
        except TimeoutError:
            return False
        finally:
            writer.close()

    def cli(self, command: str, within: float = 15.0) -> str:
        """``asterisk -rx`` against this instance (its own control socket)."""
        done = subprocess.run(
            [str(self.binary), "-C", str(self.conf), "-rx", command],
            capture_output=True,
            timeout=within,
            check=False,
        )
        return done.stdout.decode("utf-8", "replace")

    async def stop(self) -> None:
        process, self.process = self.process, None
        await _end(process, within=15.0)

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    def log_text(self) -> str:
        return self.log_file.read_text("utf-8", "replace") if self.log_file.exists() else ""

    def tail(self, lines: int = 40) -> str:
        console = self.root / "log" / "console.out"
        text = console.read_text("utf-8", "replace") if console.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def problems(self) -> list[str]:
        """ERROR and WARNING lines of the log."""
        return [
            line
            for line in self.log_text().splitlines()
            if " ERROR[" in line or " WARNING[" in line
        ]


def _tone(path: Path, seconds: float) -> None:
    """A 440 Hz tone, 8 kHz 16-bit mono (what format_wav reads)."""
    rate = 8000
    frames = b"".join(
        struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / rate)))
        for i in range(int(rate * seconds))
    )
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(frames)


@dataclass
class SipPhone:
    """A phone played by sipp: registered as ``extension`` with the generated password; the
    calls it gets are answered after a short ring (``answers``) or ring until cancelled."""

    pbx: RealPbx
    extension: str
    answers: bool = True
    port: int = field(default_factory=lambda: free_port(socket.SOCK_DGRAM))
    process: asyncio.subprocess.Process | None = None

    async def register(self, within: float = 10.0) -> SipPhone:
        scenario = SCENARIOS / ("answer.xml" if self.answers else "ring.xml")
        log_dir = self.pbx.root / "sipp"
        log_dir.mkdir(exist_ok=True)
        self.process = await asyncio.create_subprocess_exec(
            SIPP,
            "-sf", str(SCENARIOS / "phone.xml"),
            "-oocsf", str(scenario),
            "-i", "127.0.0.1",
            "-p", str(self.port),
            "-mp", str(free_port(socket.SOCK_DGRAM)),
            "-s", self.extension,
            "-au", self.extension,
            "-ap", self.pbx.passwords[self.extension],
            "-m", "1",
            "-nostdin",
            "-trace_err", "-error_file", str(log_dir / f"{self.extension}.err"),
            f"127.0.0.1:{self.pbx.sip_port}",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        await self.pbx_sees(registered=True, within=within)
        return self

    async def pbx_sees(self, *, registered: bool, within: float = 10.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while loop.time() < deadline:
            text = await asyncio.to_thread(self.pbx.cli, f"pjsip show aor {self.extension}")
            has_contact = f"{self.extension}/sip:" in text
            if has_contact == registered:
                return
            await asyncio.sleep(0.2)
        state = "registered" if registered else "unregistered"
        raise TimeoutError(f"phone {self.extension} not {state} after {within} s")

    async def stop(self) -> None:
        await _end(self.process)
        self.process = None


@dataclass
class SipCall:
    """A call placed by sipp (from a phone, with its digest auth, or from the trunk)."""

    process: asyncio.subprocess.Process
    port: int

    async def hang_up(self) -> None:
        await _end(self.process)


async def place_call(
    pbx: RealPbx,
    to: str,
    *,
    caller: str,
    name: str = "",
    from_trunk: bool = False,
    hold_seconds: int = 120,
) -> SipCall:
    """Call ``to`` from phone ``caller`` or, ``from_trunk``, as outside number ``caller``; the
    call stays up until the PBX hangs it up (or ``hold_seconds``)."""
    port = free_port(socket.SOCK_DGRAM)  # the trunk is identified by its address only
    log_dir = pbx.root / "sipp"
    log_dir.mkdir(exist_ok=True)
    fields = log_dir / f"call-{port}.csv"
    fields.write_text(f"SEQUENTIAL\n{caller};{name or caller}\n", encoding="utf-8")
    auth: list[str] = [] if from_trunk else ["-au", caller, "-ap", pbx.passwords[caller]]
    process = await asyncio.create_subprocess_exec(
        SIPP,
        "-sf", str(SCENARIOS / "call.xml"),
        "-inf", str(fields),
        "-i", "127.0.0.1",
        "-p", str(port),
        "-mp", str(free_port(socket.SOCK_DGRAM)),
        "-s", to,
        *auth,
        "-m", "1",
        "-d", str(hold_seconds * 1000),
        "-nostdin",
        "-trace_err", "-error_file", str(log_dir / f"call-{port}.err"),
        f"127.0.0.1:{pbx.sip_port}",
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    return SipCall(process, port)


async def _end(process: asyncio.subprocess.Process | None, within: float = 5.0) -> None:
    if process is None or process.returncode is not None:
        return
    process.terminate()
    try:
        async with asyncio.timeout(within):
            await process.wait()
    except TimeoutError:
        process.kill()
        await process.wait()


class RawAmi:
    """A bare AMI session (a socket, the product's decoder): what an attacker holding the
    account's secret could send, answered exactly as the PBX answers. Records every message
    received, for the capture fixtures."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.decoder = FrameDecoder()
        self.received: list[AmiMessage] = []
        self.raw = bytearray()
        self._count = 0

    @classmethod
    async def login(
        cls, port: int, user: str = AMI_USER, secret: str = AMI_SECRET, events: str = "on"
    ) -> RawAmi:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        ami = cls(reader, writer)
        answer = await ami.action("Login", Username=user, Secret=secret, Events=events)
        if answer.get("Response") != "Success":
            raise ConnectionError(f"AMI login refused: {answer.get('Message')}")
        return ami

    async def action(self, name: str, within: float = 10.0, **fields: str) -> AmiMessage:
        """Send one action; its response (the first message with its ActionID)."""
        self._count += 1
        action_id = "login-1" if name == "Login" else f"t{self._count}"
        lines = [f"Action: {name}", f"ActionID: {action_id}"]
        lines += [f"{key}: {value}" for key, value in fields.items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        await self.writer.drain()
        async with asyncio.timeout(within):
            while True:
                for message in await self._read():
                    if message.action_id == action_id and message.kind == "response":
                        return message

    async def wait_event(self, name: str, within: float = 10.0, **match: str) -> AmiMessage:
        """The first event ``name`` (already received or coming) whose fields match."""
        seen = 0
        async with asyncio.timeout(within):
            while True:
                for message in self.received[seen:]:
                    if (
                        message.kind == "event"
                        and message.name == name
                        and all(message.get(k) == v for k, v in match.items())
                    ):
                        return message
                seen = len(self.received)
                await self._read()

    async def _read(self) -> list[AmiMessage]:
        data = await self.reader.read(65536)
        if not data:
            raise ConnectionError("AMI connection closed")
        self.raw += data
        messages = self.decoder.feed(data)
        self.received.extend(messages)
        return messages

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError, ConnectionError):
            await self.writer.wait_closed()
