"""Several ``wardline serve`` processes on one machine, as on several: one PostgreSQL database
(fresh for the run, migrated with ``wardline db upgrade``), the real Mosquitto, one PBX
simulator on TCP (AMI), the FHIR sandbox on HTTP (counting every create by its identifier),
and for each instance its own HTTP and MLLP ports and its own instance id.

Each instance runs as a child process that can be killed (SIGKILL), paused (SIGSTOP, a
partition or a long GC stall seen from outside) and started again on the same ports.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import signal
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from tests.cluster.pg_proxy import PgProxy
from tests.services import MQTT_HOST, MQTT_PORT, fresh_postgres_database
from wardline.demo import DEMO_AMI_SECRET, DEMO_AMI_USER, free_port

ROOT = Path(__file__).resolve().parents[2]
AUDIT_KEY = base64.urlsafe_b64encode(b"cluster-test-audit-key-32-bytes!").decode()
SESSION_SECRET = base64.urlsafe_b64encode(b"cluster-test-session-secret-32b!").decode()
CONSOLE_USER, CONSOLE_PASSWORD = "standard", "standard-cluster"


@dataclass(frozen=True)
class WardBed:
    label: str
    ward: str
    room: str
    bed: str
    extension: str
    terminal: str
    station: str


def write_inventory(path: Path, beds: int) -> list[WardBed]:
    """A generated hospital of ``beds`` beds written to ``path``; its beds, in order."""
    from wardline.example_hospital import dump, generate

    doc = generate(beds)
    path.write_text(dump(doc), encoding="utf-8")
    out: list[WardBed] = []
    for site in doc["sites"]:
        for ward in site["wards"]:
            for room in ward["rooms"]:
                for bed in room["beds"]:
                    out.append(
                        WardBed(
                            label=f"{ward['code']}-{room['code']}-{bed['code']}",
                            ward=ward["code"],
                            room=room["code"],
                            bed=bed["code"],
                            extension=bed["extension"],
                            terminal=bed["terminal"],
                            station=ward["nurse_station"],
                        )
                    )
    return out


class CountingFhir:
    """The FHIR sandbox, with every conditional create counted by its identifier: how many
    times each write reached the EHR (``posts``) and how many resources it made (``created``)."""

    def __init__(self) -> None:
        from ehr_bridge.sandbox.store import SandboxStore

        self.store = SandboxStore()
        self.posts: Counter[str] = Counter()
        self.created: Counter[str] = Counter()
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> None:
        from ehr_bridge.sandbox.server import sandbox_app

        app = sandbox_app(self.store)

        @web.middleware
        async def count(request: web.Request, handler: Any) -> web.StreamResponse:
            condition = request.headers.get("If-None-Exist", "")
            response = await handler(request)
            if request.method == "POST" and condition:
                key = condition.rpartition("|")[2]
                self.posts[key] += 1
                if response.status == 201:
                    self.created[key] += 1
            return response

        app.middlewares.append(count)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@dataclass
class Instance:
    """One ``wardline serve`` process; started again on the same ports after a kill."""

    name: str
    env: dict[str, str]
    http_port: int
    mllp_port: int
    log_path: Path
    process: asyncio.subprocess.Process | None = None
    starts: int = 0
    paused: bool = False

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def start(self) -> None:
        assert not self.alive, f"{self.name} is already running"
        self.starts += 1
        log = self.log_path.open("ab")
        log.write(f"\n--- start {self.starts} ---\n".encode())
        log.flush()
        try:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "wardline", "serve",
                cwd=ROOT, env=self.env, stdout=log, stderr=log,
                start_new_session=True,
            )  # fmt: skip
        finally:
            log.close()

    async def kill(self) -> None:
        """kill -9: no cleanup, no goodbye to the broker, the database or the PBX."""
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)
            await self.process.wait()
        self.paused = False

    def pause(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)
        self.paused = False

    async def stop(self) -> None:
        if self.process is None or self.process.returncode is not None:
            return
        if self.paused:
            self.resume()
        self.process.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(10):
                await self.process.wait()
        except TimeoutError:
            await self.kill()

    async def readiness(self, http: aiohttp.ClientSession) -> dict[str, Any] | None:
        """The /readyz report (None when the process does not answer)."""
        try:
            async with asyncio.timeout(2):
                async with http.get(f"{self.base_url}/readyz") as r:
                    body: dict[str, Any] = await r.json()
                    body["http_status"] = r.status
                    return body
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return None

    async def wait_ready(self, http: aiohttp.ClientSession, timeout: float = 40.0) -> None:  # noqa: ASYNC109
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            if not self.alive:
                raise AssertionError(f"{self.name} exited: see {self.log_path}")
            report = await self.readiness(http)
            if report is not None and report["http_status"] == 200:
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"{self.name} not ready within {timeout}s: see {self.log_path}")


@dataclass
class Cluster:
    topic_root: str
    database_url: str
    pbx: Any
    fhir: CountingFhir
    beds: list[WardBed]
    instances: list[Instance]
    proxies: dict[str, PgProxy] = field(default_factory=dict)

    def by_name(self, name: str) -> Instance:
        return next(i for i in self.instances if i.name == name)


def instance_env(
    name: str,
    database_url: str,
    ami_port: int,
    fhir_url: str,
    data_dir: Path,
    topic_root: str,
    **extra: str,
) -> dict[str, str]:
    from ehr_bridge.sandbox.corpus import IPP_SYSTEM, VISIT_SYSTEM

    env = {k: v for k, v in os.environ.items() if not k.startswith("WARDLINE_")}
    env.update(
        {
            "WARDLINE_INSTANCE_ID": name,
            "WARDLINE_DATA_DIR": str(data_dir),
            "WARDLINE_DATABASE_URL": database_url,
            "WARDLINE_DB_AUTO_UPGRADE": "false",
            "WARDLINE_HTTP_HOST": "127.0.0.1",
            "WARDLINE_AMI_HOST": "127.0.0.1",
            "WARDLINE_AMI_PORT": str(ami_port),
            "WARDLINE_AMI_USERNAME": DEMO_AMI_USER,
            "WARDLINE_AMI_SECRET": DEMO_AMI_SECRET,
            "WARDLINE_MQTT_URL": f"mqtt://{MQTT_HOST}:{MQTT_PORT}",
            # The broker is shared with other tests: a private root and client ids.
            "WARDLINE_MQTT_CLIENT_ID": f"{topic_root.replace('/', '-')}-{name}",
            "WARDLINE_BEDSIDE_TOPIC_ROOT": topic_root,
            "WARDLINE_MLLP_HOST": "127.0.0.1",
            "WARDLINE_FHIR_URL": fhir_url,
            "WARDLINE_EHR_IPP_SYSTEM": IPP_SYSTEM,
            "WARDLINE_EHR_VISIT_SYSTEM": VISIT_SYSTEM,
            "WARDLINE_AUDIT_KEY": AUDIT_KEY,
            "WARDLINE_SESSION_SECRET": SESSION_SECRET,
            "WARDLINE_DID_QUARANTINE_HOURS": "0",
            "WARDLINE_LOG_FORMAT": "json",
            "WARDLINE_LOG_LEVEL": "INFO",
            "WARDLINE_LOOP_STALL_SECONDS": "1",
        }
    )
    env.update(extra)
    return env


async def wardline_cli(env: dict[str, str], *args: str) -> str:
    """Run ``wardline ARGS`` as an operator would; its output, or the test fails."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "wardline", *args, cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await process.communicate()
    text = out.decode(errors="replace")
    assert process.returncode == 0, f"wardline {' '.join(args)} failed:\n{text}"
    return text


@asynccontextmanager
async def running_cluster(
    tmp: Path,
    names: tuple[str, ...] = ("a", "b"),
    *,
    beds: int = 200,
    proxied: tuple[str, ...] = (),
    extra_env: dict[str, str] | None = None,
) -> AsyncIterator[Cluster]:
    """Every part started; the instances named in ``proxied`` reach PostgreSQL through a
    :class:`PgProxy` the test can cut. Stopped in reverse order."""
    from telephony.simulator.server import PbxSimulator

    inventory = tmp / "hospital.yaml"
    ward_beds = write_inventory(inventory, beds)
    async with AsyncExitStack() as stack:
        database_url = await stack.enter_async_context(fresh_postgres_database())
        pbx = PbxSimulator.from_inventory(inventory, users={DEMO_AMI_USER: DEMO_AMI_SECRET})
        await pbx.start("127.0.0.1", 0)
        stack.push_async_callback(pbx.stop)
        fhir = CountingFhir()
        await fhir.start()
        stack.push_async_callback(fhir.stop)
        root = f"wlcluster-{uuid.uuid4().hex[:8]}/v1"
        admin_env = instance_env("admin", database_url, pbx.port, fhir.url, tmp / "admin", root)
        await wardline_cli(admin_env, "db", "upgrade")
        await wardline_cli(admin_env, "inventory", "load", str(inventory))
        await _add_console_user(admin_env)
        cluster = Cluster(root, database_url, pbx, fhir, ward_beds, [])
        for name in names:
            url = database_url
            if name in proxied:
                proxy = PgProxy()
                await proxy.start()
                stack.push_async_callback(proxy.stop)
                cluster.proxies[name] = proxy
                url = database_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
            http_port, mllp_port = free_port(), free_port()
            env = instance_env(
                name, url, pbx.port, fhir.url, tmp / name, root, **(extra_env or {}),
                WARDLINE_HTTP_PORT=str(http_port), WARDLINE_MLLP_PORT=str(mllp_port),
            )  # fmt: skip
            instance = Instance(name, env, http_port, mllp_port, tmp / f"{name}.log")
            cluster.instances.append(instance)
            stack.push_async_callback(instance.stop)
        for instance in cluster.instances:
            await instance.start()
        async with aiohttp.ClientSession() as http:
            await asyncio.gather(*(i.wait_ready(http) for i in cluster.instances))
        yield cluster


async def _add_console_user(env: dict[str, str]) -> None:
    """A switchboard account for the consoles (through the product's own directory)."""
    from wardline.db.engine import Database
    from wardline.domain.audit import AuditLog
    from wardline.domain.commands import Actor
    from wardline.domain.staff import StaffDirectory

    db = Database(env["WARDLINE_DATABASE_URL"])
    try:
        staff = StaffDirectory(db, AuditLog(key=base64.urlsafe_b64decode(AUDIT_KEY)))
        await staff.add_user(
            Actor(name="system:test"),
            username=CONSOLE_USER,
            display_name="Sacha Standard",
            roles={"switchboard"},
            password=CONSOLE_PASSWORD,
        )
    finally:
        await db.dispose()


def log_lines(instance: Instance) -> list[str]:
    with contextlib.suppress(FileNotFoundError):
        return instance.log_path.read_text(errors="replace").splitlines()
    return []
