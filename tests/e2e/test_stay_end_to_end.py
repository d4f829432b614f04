"""One patient's stay, end to end, every step over its real protocol.

A01 over MLLP -> the bed line is active in the PBX's AstDB and the terminal's retained context
greets the patient; a call to the patient's DID rings the bed phone and the terminal shows the
banner; the patient calls the nurse -> the nurse station rings -> a nurse's badge at the bed
clears it; the nurse records an administration -> it arrives once in the FHIR sandbox; A02 ->
the DID rings the new bed and the old terminal shows nothing of the patient; A03 -> the line
is off, the retained context is gone, the DID is in quarantine; the audit chain verifies and
no log line contains the patient's name.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import aiohttp
import aiomqtt

from bedside.contract import BadgeTap, NurseCallPressed
from ehr_bridge.adt_builder import AdtBed, AdtPatient, AdtSender, adt_message
from ehr_bridge.sandbox.seed import seed_patient
from kiosk_ui.terminal_auth import issue_credential
from tests.services import (
    MQTT_HOST,
    MQTT_PORT,
    fresh_postgres_database,
    need_mosquitto,
    wait_until,
)
from wardline import appkeys as k
from wardline.db.models import Did
from wardline.demo import DemoOptions, start_demo
from wardline.demo_scenario import DemoBed, demo_beds
from wardline.domain.audit import verify_chain
from wardline.domain.clinical_record_port import AdministrationInput, GivenDose
from wardline.domain.commands import Actor
from wardline.logs import configure_logging

_probes = itertools.count()
PATIENT = AdtPatient(
    ipp="900123",
    family="DUPRÉ",
    given="Hélène",
    birth_date=date(1950, 3, 14),
    sex="F",
    visit_number="V900123",
)


class Terminal:
    """A terminal's view of the broker: what a fresh subscriber finds, and what it is sent."""

    def __init__(self, port: int, terminal_id: str) -> None:
        self.port, self.id = port, terminal_id
        self.notices: list[dict[str, object]] = []

    async def retained_context(self) -> bytes | None:
        topic = f"wardline/v1/terminal/{self.id}/context"
        probe = f"probe-{self.id}-{next(_probes)}"
        async with aiomqtt.Client(MQTT_HOST, self.port, identifier=probe) as c:
            await c.subscribe(topic, qos=1)
            try:
                async with asyncio.timeout(0.5):
                    async for message in c.messages:
                        payload = bytes(message.payload)  # type: ignore[arg-type]
                        return payload or None
            except TimeoutError:
                return None
        return None

    @asynccontextmanager
    async def listening(self) -> AsyncIterator[None]:
        async def listen() -> None:
            async with aiomqtt.Client(MQTT_HOST, self.port, identifier=f"tv-{self.id}") as c:
                await c.subscribe(f"wardline/v1/terminal/{self.id}/notify", qos=1)
                async for message in c.messages:
                    self.notices.append(json.loads(bytes(message.payload)))  # type: ignore[arg-type]

        task = asyncio.create_task(listen())
        await asyncio.sleep(0.3)
        try:
            yield
        finally:
            task.cancel()

    async def press(self, payload: bytes) -> None:
        async with aiomqtt.Client(MQTT_HOST, self.port, identifier=f"hw-{self.id}") as c:
            await c.publish(f"wardline/v1/terminal/{self.id}/event", payload, qos=1)


class TvPage:
    """The bedside TV's browser: enrolled with the terminal's credential, on its live feed."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.events: list[dict[str, object]] = []
        self._task: asyncio.Task[None] | None = None

    async def enroll(self, credential: str) -> None:
        async with self.http.get(f"{self.base}/api/v1/session") as r:
            csrf = (await r.json())["csrf_token"]
        async with self.http.post(
            f"{self.base}/api/v1/tv/enroll",
            json={"credential": credential},
            headers={"X-CSRF-Token": csrf},
        ) as r:
            assert r.status == 200, await r.text()
        ws = await self.http.ws_connect(self.base.replace("http", "ws") + "/ws?topics=tv_bed")

        async def listen() -> None:
            async for message in ws:
                self.events.append(json.loads(message.data))

        self._task = asyncio.create_task(listen())

    def saw(self, kind: str) -> bool:
        return any(e.get("type") == kind for e in self.events)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
        await self.http.close()


async def greets(terminal: Terminal, name: str) -> bool:
    payload = await terminal.retained_context()
    return payload is not None and name in payload.decode()


async def test_one_stay_end_to_end(tmp_path: Path) -> None:
    """On the production kind of parts: PostgreSQL and Mosquitto (the demo's amqtt and SQLite
    are replaced), with the PBX simulator, the FHIR sandbox and MLLP as in the demo."""
    need_mosquitto()
    logs = io.StringIO()
    configure_logging("DEBUG", "json", stream=logs)
    async with fresh_postgres_database() as database_url:
        options = DemoOptions(
            port=0,
            scenario=False,
            data_dir=tmp_path / "demo",
            terminals=0,
            mqtt_url=f"mqtt://{MQTT_HOST}:{MQTT_PORT}",
            database_url=database_url,
        )
        await _follow_one_stay(options)
    text = logs.getvalue()
    assert "stay" in text  # the logs were captured
    for secret in ("Hélène", "HÉLÈNE", "DUPRÉ", "Dupré", "DUPRE"):
        assert secret not in text, f"{secret} found in the logs"


async def _follow_one_stay(options: DemoOptions) -> None:
    async with start_demo(options) as demo:
        app, sim = demo.app, demo.pbx
        async with aiohttp.ClientSession() as http:

            async def ready() -> bool:
                async with http.get(f"{demo.base_url}/readyz") as r:
                    return r.status == 200 and (await r.json())["checks"]["mqtt"]["state"] == "up"

            await wait_until(ready, timeout=20)
        beds = {b.label: b for b in await demo_beds(demo)}
        bed_a, bed_b = beds["CARDIO-101-A"], beds["NEURO-301-A"]
        tv_a, tv_b = (
            Terminal(demo.broker_port, "T-CARDIO-101-A"),
            Terminal(demo.broker_port, "T-NEURO-301-A"),
        )
        seed_patient(
            demo.sandbox.store,
            ipp=PATIENT.ipp,
            visit_number=PATIENT.visit_number,
            location_id=bed_a.fhir_location,
            family=PATIENT.family,
            given=PATIENT.given,
            birth_date=PATIENT.birth_date,
            gender="female",
        )
        adt = AdtSender(demo.settings.mllp_host, demo.settings.mllp_port)

        def where(bed: DemoBed) -> AdtBed:
            return AdtBed(ward=bed.ward, room=bed.room, bed=bed.bed)

        # 1. Admission over MLLP: the line is active in AstDB, the terminal greets Hélène.
        assert await adt.send(adt_message("A01", PATIENT, where(bed_a), "E2E-0001")) == "AA"
        await wait_until(lambda: sim.astdb.get(f"bed/{bed_a.extension}/active") == "1", 10)
        stay = await app[k.STAYS].stay_by_visit(PATIENT.visit_number)
        assert stay is not None and stay.did is not None
        did = stay.did
        await wait_until(lambda: sim.astdb.get(f"did/{did}") == bed_a.extension, 10)
        await wait_until(lambda: greets(tv_a, "Hélène"), 10)

        # 2. A call to the patient's number rings the bed phone; the terminal and the TV page
        # (enrolled with the terminal's credential) show a banner.
        tv_page = TvPage(demo.base_url)
        await tv_page.enroll(await issue_credential(app[k.DATABASE], tv_a.id))
        async with tv_a.listening():
            call = sim.external_call(to=did, caller="0612345678", name="Appel extérieur")
            await wait_until(lambda: sim.ringing(bed_a.extension) is not None, 10)
            await wait_until(lambda: tv_page.saw("CallRinging"), 10)
            await tv_page.close()
            await wait_until(
                lambda: any(n.get("type") == "incoming_call" and n.get("state") == "ringing"
                            for n in tv_a.notices), 10,
            )  # fmt: skip
            sim.hangup(call)

            # 3. Nurse call from the bed: the ward's nurse station rings; a badge clears it.
            station = "2900"
            await tv_a.press(NurseCallPressed(source="button", press_id="e2e-1").to_bytes())
            await wait_until(lambda: sim.ringing(station) is not None, 10)
            open_calls = await app[k.NURSE_CALLS].open_calls("CARDIO")
            assert [c.bed_label for c in open_calls] == [bed_a.label]
            await tv_a.press(BadgeTap(badge_id="BADGE-DEMO-1").to_bytes())

            async def cleared() -> bool:
                return not await app[k.NURSE_CALLS].open_calls("CARDIO")

            await wait_until(cleared, 10)

        # 4. The nurse records an administration: it reaches the EHR exactly once.
        stay = await app[k.STAYS].stay_by_visit(PATIENT.visit_number)
        assert stay is not None
        record = app[k.CLINICAL_RECORD]
        doses = await record.medication_schedule(stay)
        dose = next(d for d in doses if d.state in ("due", "overdue"))
        now = datetime.now(UTC)
        entry = AdministrationInput(
            order_id=dose.order_id,
            due_at=dose.due_at,
            given=True,
            at=min(max(now, dose.window_start), dose.window_end),
            late_reason=None if dose.window_start <= now <= dose.window_end else "late",
            dose=GivenDose(value=Decimal(1), unit="{tbl}"),
            dose_confirmed_text=dose.dose,
            scanned_patient_id=PATIENT.ipp,
        )
        nurse = Actor(name="infirmiere", roles=frozenset({"nurse"}))
        await record.record_administration(stay, entry, nurse)
        store = demo.sandbox.store
        await wait_until(lambda: store.created["MedicationAdministration"] == 1, 20)

        # 5. Transfer: the DID follows the patient; the old terminal knows nothing of her.
        assert await adt.send(adt_message("A02", PATIENT, where(bed_b), "E2E-0002")) == "AA"
        await wait_until(lambda: sim.astdb.get(f"did/{did}") == bed_b.extension, 10)
        await wait_until(lambda: sim.astdb.get(f"bed/{bed_a.extension}/active") != "1", 10)
        await wait_until(lambda: greets(tv_b, "Hélène"), 10)
        assert await tv_a.retained_context() is None
        call = sim.external_call(to=did, caller="0612345678", name="Appel extérieur")
        await wait_until(lambda: sim.ringing(bed_b.extension) is not None, 10)
        assert sim.ringing(bed_a.extension) is None
        sim.hangup(call)

        # 6. Discharge: line off, DID unassigned and quarantined, nothing left on the broker.
        assert await adt.send(adt_message("A03", PATIENT, where(bed_b), "E2E-0003")) == "AA"
        await wait_until(lambda: sim.astdb.get(f"did/{did}") is None, 10)
        await wait_until(lambda: sim.astdb.get(f"bed/{bed_b.extension}/active") != "1", 10)
        await wait_until(lambda: _gone(tv_b), 10)
        async with app[k.DATABASE].sessions() as s:
            number = await s.get(Did, did)
            assert number is not None and number.state == "quarantine"
        await adt.close()

        # 7. The audit chain holds, and the patient's name never reached the logs.
        report = await verify_chain(app[k.DATABASE], app[k.AUDIT].key)
        assert report.ok and report.rows > 3
        await store_one_more_check(store)


async def _gone(terminal: Terminal) -> bool:
    return await terminal.retained_context() is None


async def store_one_more_check(store: object) -> None:
    """The administration was not duplicated by retries while the stay moved on."""
    assert store.created["MedicationAdministration"] == 1  # type: ignore[attr-defined]
