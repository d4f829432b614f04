"""``wardline demo``: the whole hospital on one laptop, over the real protocols.

Starts, with no other software to install: SQLite in ``data/demo``, an in-process MQTT broker
(amqtt), the PBX simulator (AMI on TCP), the FHIR sandbox (HTTP), the MLLP listener, a few
terminal simulators and the web app; loads a synthetic hospital and demo accounts; prints the
URLs; and, unless ``--scenario off``, drives admissions, transfers, discharges (HL7 over MLLP),
calls (through the simulator) and nurse calls (MQTT) so that the console moves. Ctrl-C stops
everything cleanly, in reverse order.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import signal
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog
from aiohttp import web
from pydantic import SecretStr

from wardline.demo_dir import DemoDirectory
from wardline.errors import ConfigError
from wardline.settings import Settings

log = structlog.get_logger(__name__)

DEMO_AMI_USER, DEMO_AMI_SECRET = "wardline", "demo-ami-secret"


@dataclass(frozen=True)
class DemoAccount:
    username: str
    password: str
    role: str
    name: str
    pin: str | None = None
    badge: str | None = None
    ward: str | None = None


DEMO_ACCOUNTS = (
    DemoAccount("admin", "admin-demo", "admin", "Camille Admin"),
    DemoAccount("standard", "standard-demo", "switchboard", "Sacha Standard"),
    DemoAccount(
        "infirmiere",
        "infirmiere-demo",
        "nurse",
        "Inès Lambert",
        pin="1234",
        badge="BADGE-DEMO-1",
        ward="CARDIO",
    ),
)


@dataclass
class DemoOptions:
    host: str = "127.0.0.1"
    port: int = 8080
    scenario: bool = True
    data_dir: Path = Path("data/demo")
    beds: int = 120
    terminals: int = 4
    tick_seconds: float = 3.0
    seed: int | None = None
    mqtt_url: str | None = None
    """An external broker instead of the in-process amqtt one (tests use Mosquitto)."""
    database_url: str | None = None
    """An external database instead of SQLite in the data directory (tests use PostgreSQL)."""
    fresh: bool = False
    """Start over: remove the demo's own files in the data directory first."""
    tv_terminal: str = "T-CARDIO-101-A"
    """The terminal whose TV the banner opens (through a fresh enrolment link)."""


@dataclass
class DemoHospital:
    """What a running demo exposes (to the scenario driver and to tests)."""

    settings: Settings
    app: web.Application
    base_url: str
    pbx: Any
    sandbox: Any
    broker_port: int
    tv_link: str = ""
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _port_busy(host: str, port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return True
    return False


@asynccontextmanager
async def mqtt_broker(port: int) -> AsyncIterator[None]:
    """The in-process amqtt broker of the demo (never used in production)."""
    import logging

    from amqtt.broker import Broker

    for name in ("amqtt", "transitions"):
        logging.getLogger(name).setLevel(logging.ERROR)
    config = {
        "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}},
        "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
    }
    broker = Broker(config)
    await broker.start()
    try:
        yield
    finally:
        await broker.shutdown()


async def _prepare_database(settings: Settings, inventory: Path, tv_terminal: str) -> str:
    """Migrate, load the inventory and the demo accounts (each only when missing: the demo
    keeps its data between runs); return a fresh credential for the banner's TV."""
    from kiosk_ui.terminal_auth import issue_credential
    from wardline.db.engine import Database, upgrade
    from wardline.domain.audit import AuditLog
    from wardline.domain.commands import Actor
    from wardline.domain.errors import Conflict
    from wardline.domain.inventory import load_inventory
    from wardline.domain.staff import StaffDirectory

    await upgrade(settings.effective_database_url)
    db = Database(settings.effective_database_url)
    actor = Actor(name="system:demo")
    try:
        audit = AuditLog(key=settings.audit_key_bytes())
        await load_inventory(db, inventory, actor, audit)
        staff = StaffDirectory(db, audit)
        for a in DEMO_ACCOUNTS:
            with contextlib.suppress(Conflict):
                await staff.add_user(
                    actor,
                    username=a.username,
                    display_name=a.name,
                    roles={a.role},
                    password=a.password,
                    pin=a.pin,
                    badge=a.badge,
                    ward_code=a.ward,
                )
        return await issue_credential(db, tv_terminal, audit=audit, actor=actor)
    finally:
        await db.dispose()


@asynccontextmanager
async def start_demo(
    options: DemoOptions, directory: DemoDirectory | None = None
) -> AsyncIterator[DemoHospital]:
    """Start every part; stop them in reverse order when the block ends. ``directory`` is
    the data directory already claimed by the caller (else it is claimed here)."""
    from ehr_bridge.sandbox.corpus import IPP_SYSTEM, VISIT_SYSTEM, load_corpus
    from ehr_bridge.sandbox.server import RunningSandbox
    from ehr_bridge.sandbox.store import SandboxStore
    from telephony.simulator.server import PbxSimulator
    from wardline.app import build_app
    from wardline.example_hospital import dump, generate

    if options.port and _port_busy(options.host, options.port):
        raise ConfigError(
            "demo.port_busy",
            f"port {options.port} is taken on {options.host}: choose another with --port",
        )
    async with AsyncExitStack() as stack:
        if directory is None:
            directory = DemoDirectory(options.data_dir).claim(fresh=options.fresh)
            stack.callback(directory.release)
        inventory = directory.inventory
        if not inventory.exists():
            inventory.write_text(dump(generate(options.beds)), encoding="utf-8")
        if options.mqtt_url is None:
            broker_port = free_port()
            await stack.enter_async_context(mqtt_broker(broker_port))
            mqtt_url = f"mqtt://127.0.0.1:{broker_port}"
            # amqtt mixes up retained messages after a wildcard survey: no survey here.
            os.environ.setdefault("WARDLINE_BEDSIDE_SURVEY_RETAINED", "false")
        else:
            mqtt_url = options.mqtt_url
            broker_port = int(mqtt_url.rsplit(":", 1)[1])
        # The demo is the sandbox's hospital: its IPP and visit systems (read by the EHR
        # bridge's settings), unless set; put back as they were when the demo stops.
        for name, value in (
            ("WARDLINE_EHR_IPP_SYSTEM", IPP_SYSTEM),
            ("WARDLINE_EHR_VISIT_SYSTEM", VISIT_SYSTEM),
        ):
            if name not in os.environ:
                os.environ[name] = value
                stack.callback(os.environ.pop, name, None)
        store = SandboxStore()
        load_corpus(store)  # the corpus of real-EHR-shaped records, served beside the demo's
        sandbox = RunningSandbox(store)
        await sandbox.start()
        stack.push_async_callback(sandbox.stop)
        pbx = _simulator(PbxSimulator, inventory)
        await pbx.start("127.0.0.1", 0)
        stack.push_async_callback(pbx.stop)
        settings = Settings(
            data_dir=options.data_dir,
            http_host=options.host,
            http_port=options.port,
            ami_host="127.0.0.1",
            ami_port=pbx.port,
            ami_username=DEMO_AMI_USER,
            ami_secret=SecretStr(DEMO_AMI_SECRET),
            mqtt_url=SecretStr(mqtt_url),
            # amqtt has no shared subscriptions ($share): a plain one (the demo is one instance)
            mqtt_shared_group="" if options.mqtt_url is None else "auto",
            database_url=options.database_url,
            mllp_host="127.0.0.1",
            mllp_port=free_port(),
            fhir_url=sandbox.url,
            site_name="Centre Hospitalier Régional Synthétique (démo)",
        )
        tv_secret = await _prepare_database(settings, inventory, options.tv_terminal)
        app = build_app(settings)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        site = web.TCPSite(runner, options.host, options.port)
        await site.start()
        port = int(runner.addresses[0][1])
        base = f"http://{options.host}:{port}"
        demo = DemoHospital(
            settings,
            app,
            base,
            pbx,
            sandbox,
            broker_port,
            tv_link=f"{base}/tv/enroll#credential={tv_secret}",
        )
        stack.push_async_callback(_cancel_all, demo.tasks)
        yield demo


def _simulator(cls: Any, inventory: Path) -> Any:
    users = {DEMO_AMI_USER: DEMO_AMI_SECRET}
    if hasattr(cls, "from_inventory"):
        return cls.from_inventory(inventory, users=users)
    return cls(users)


async def _cancel_all(tasks: list[asyncio.Task[Any]]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def spawn(demo: DemoHospital, coro: Awaitable[Any], name: str) -> None:
    """Keep a background task by reference and log its failure."""

    async def guarded() -> None:
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("demo.task_failed", task=name)

    demo.tasks.append(asyncio.create_task(guarded(), name=name))


def banner(demo: DemoHospital, options: DemoOptions) -> str:
    base = demo.base_url
    nurse = DEMO_ACCOUNTS[2]
    switchboard, admin = DEMO_ACCOUNTS[1], DEMO_ACCOUNTS[0]
    rule = "─" * 78
    lines = [
        "",
        rule,
        "Wardline demo: a synthetic hospital over real AMI, MQTT, HL7/MLLP and FHIR.",
        rule,
        "  Switchboard console",
        f"    {base}/console",
        f"    sign in as {switchboard.username} / {switchboard.password} (operator phone 9000)",
        "  Admin pages",
        f"    {base}/admin",
        f"    sign in as {admin.username} / {admin.password}",
        f"  Patient TV of bed {options.tv_terminal.removeprefix('T-')}"
        " (remote: arrows, Enter, Esc)",
        f"    {demo.tv_link}",
        "    (a new enrolment link at each start; it signs this browser in as that TV)",
        "  Nurse at the bed: on that TV, the Staff tile,",
        f"    badge {nurse.badge}, PIN {nurse.pin} ({nurse.name}, ward {nurse.ward})",
        f"  Health: {base}/readyz   Metrics: {base}/metrics",
        "",
        f"  Data and logs: {options.data_dir}/ (log: {options.data_dir}/demo.log); "
        "--fresh starts over",
        f"  PBX simulator AMI 127.0.0.1:{demo.pbx.port}  MLLP 127.0.0.1:"
        f"{demo.settings.mllp_port}  MQTT 127.0.0.1:{demo.broker_port}",
        "  Scenario: " + ("on (admissions, calls, nurse calls)" if options.scenario else "off"),
        rule,
        "Ctrl-C stops everything.",
        "",
    ]
    return "\n".join(lines)


async def run_demo(
    options: DemoOptions,
    ready: Callable[[DemoHospital], None] | None = None,
    *,
    log_level: str = "INFO",
    log_format: str = "auto",
) -> int:
    """The ``wardline demo`` command: claims the data directory, sends routine logs to a
    file in it (the terminal keeps the banner, warnings and errors), runs until SIGINT or
    SIGTERM, then stops every part in order and says "stopped"."""
    from wardline.demo_scenario import run_scenario, run_terminals
    from wardline.logs import configure_logging

    directory = DemoDirectory(options.data_dir).claim(fresh=options.fresh)
    try:
        configure_logging(log_level, log_format, file=directory.log_file, stream_level="WARNING")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        if directory.first_start:
            print(
                f"First start in {options.data_dir}: creating the database and the synthetic "
                "hospital (about 15 s)…",
                flush=True,
            )
        else:
            print(f"Starting the demo hospital kept in {options.data_dir}…", flush=True)
        async with start_demo(options, directory) as demo:
            if not stop.is_set():
                spawn(demo, run_terminals(demo, options.terminals, io.StringIO()), "demo.terminals")
                if options.scenario:
                    spawn(
                        demo,
                        run_scenario(demo, options.tick_seconds, options.seed),
                        "demo.scenario",
                    )
                print(banner(demo, options), flush=True)
                if ready is not None:
                    ready(demo)
                await stop.wait()
            print("stopping…", flush=True)
        print("stopped", flush=True)
    finally:
        directory.release()
    return 0
