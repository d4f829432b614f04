"""The demo's scenario driver: keeps the synthetic hospital alive over the real protocols.

Admissions, transfers and discharges go to the MLLP listener as HL7 (the sandbox is seeded
first with the patient's record); calls go through the PBX simulator's phones; nurse calls
and badge taps are published on the terminals' MQTT topics, exactly as terminals do.
All people are invented.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, TextIO

import aiomqtt
import structlog
from sqlalchemy import select

from wardline import appkeys as k
from wardline.db.models import Bed, Patient, Room, Stay, Ward

if TYPE_CHECKING:
    from wardline.demo import DemoHospital

log = structlog.get_logger(__name__)

NAMES = [
    ("DUPRÉ", "Hélène", "F"),
    ("MÜLLER", "Jürgen", "M"),
    ("SCHMIT", "Anna", "F"),
    ("LEFÈVRE", "Zoé", "F"),
    ("WEBER", "Lucas", "M"),
    ("KIEFFER", "Marie", "F"),
    ("BERNARD", "Paul", "M"),
    ("NGUYEN", "Thi", "F"),
    ("DA SILVA", "João", "M"),
    ("PETIT", "Louise", "F"),
    ("HOFFMANN", "Klaus", "M"),
    ("GÉRARD", "Chloé", "F"),
    ("LAMBERT", "Noël", "M"),
    ("WAGNER", "Léa", "F"),
    ("REUTER", "Marc", "M"),
]
CALLERS = [
    ("0612345678", "Appel extérieur"),
    ("+352621000111", "Appel Luxembourg"),
    ("+3222000111", "Appel Bruxelles"),
    ("0388000000", "Médecin traitant"),
]


@dataclass(frozen=True)
class DemoBed:
    label: str
    ward: str
    room: str
    bed: str
    extension: str
    terminal: str | None
    fhir_location: str | None


@dataclass
class Admitted:
    patient: Any
    bed: DemoBed


async def demo_beds(demo: DemoHospital) -> list[DemoBed]:
    async with demo.app[k.DATABASE].sessions() as s:
        rows = (
            await s.execute(
                select(Bed, Room, Ward)
                .join(Room, Bed.room_id == Room.id)
                .join(Ward, Room.ward_id == Ward.id)
                .order_by(Bed.id)
            )
        ).all()
    return [
        DemoBed(b.label, w.code, r.code, b.code, b.extension, f"T-{b.label}", b.fhir_location_id)
        for b, r, w in rows
    ]


async def run_terminals(demo: DemoHospital, count: int, out: TextIO) -> None:
    """A few terminal simulators, online for as long as the demo runs."""
    from bedside.mqtt_link import parse_mqtt_url
    from bedside.terminal_simulator import run_terminal
    from bedside.topics import Topics

    address = parse_mqtt_url(demo.settings.mqtt_url.get_secret_value())
    beds = (await demo_beds(demo))[:count]
    await asyncio.gather(
        *(
            run_terminal(address, b.terminal, topics=Topics(), duration=365 * 86400.0, out=out)
            for b in beds
            if b.terminal
        )
    )


class Scenario:
    def __init__(self, demo: DemoHospital, rng: random.Random) -> None:
        from ehr_bridge.adt_builder import AdtSender

        self.demo, self.rng = demo, rng
        self.sender = AdtSender(demo.settings.mllp_host, demo.settings.mllp_port)
        self.admitted: dict[str, Admitted] = {}
        self.beds: list[DemoBed] = []
        self.counter = itertools.count(1)
        # Control ids unique across runs: the demo keeps its data, and the listener answers
        # a control id it has seen with the stored ACK (a duplicate, not applied again).
        self.run_tag = format(int(time.time()), "x")[-8:]

    def free_beds(self) -> list[DemoBed]:
        taken = {a.bed.label for a in self.admitted.values()}
        return [b for b in self.beds if b.label not in taken]

    async def adt(
        self, trigger: str, visit: str, bed: DemoBed | None, charset: str | None = None
    ) -> str:
        from ehr_bridge.adt_builder import AdtBed, adt_message

        patient = self.admitted[visit].patient
        where = AdtBed(ward=bed.ward, room=bed.room, bed=bed.bed) if bed else None
        control = f"DEMO{self.run_tag}{next(self.counter):06d}"
        message = adt_message(trigger, patient, where, control, charset=charset)
        code = await self.sender.send(message)
        log.info("demo.adt", trigger=trigger, visit_number=visit, ack=code)
        return code

    async def resume(self) -> None:
        """Take up the stays a previous run left (the demo keeps its data): they become the
        scenario's patients again, and their records are seeded into the FHIR sandbox, which
        keeps nothing between runs."""
        from ehr_bridge.adt_builder import AdtPatient
        from ehr_bridge.sandbox.seed import seed_patient

        by_label = {b.label: b for b in self.beds}
        async with self.demo.app[k.DATABASE].sessions() as s:
            rows = (
                await s.execute(
                    select(Stay, Patient, Bed.label)
                    .join(Patient, Stay.patient_id == Patient.id)
                    .join(Bed, Stay.bed_id == Bed.id)
                    .where(Stay.status == "active")
                )
            ).all()
            numbers = [
                int(ipp) - 900000
                for ipp in await s.scalars(select(Patient.ipp))
                if ipp.isdigit() and int(ipp) > 900000
            ]
        self.counter = itertools.count(max(numbers, default=0) + 1)
        from ehr_bridge.sandbox.corpus import CORPUS_PATIENTS

        corpus_ipps = {p.ipp for p in CORPUS_PATIENTS.values()}
        for stay, patient, label in rows:
            bed = by_label.get(label)
            if bed is None or patient.birth_date is None:
                continue
            adt_patient = AdtPatient(
                ipp=patient.ipp,
                family=patient.family_name,
                given=patient.given_name,
                birth_date=patient.birth_date,
                sex=patient.sex,
                visit_number=stay.visit_number,
            )
            self.admitted[stay.visit_number] = Admitted(adt_patient, bed)
            if patient.ipp in corpus_ipps:
                continue  # the sandbox serves the corpus's own records: no second Patient
            seed_patient(
                self.demo.sandbox.store,
                ipp=patient.ipp,
                visit_number=stay.visit_number,
                location_id=bed.fhir_location,
                family=patient.family_name,
                given=patient.given_name,
                birth_date=patient.birth_date,
                gender="female" if patient.sex == "F" else "male",
                gluten_free=self.rng.random() < 0.2,
                penicillin_allergy=self.rng.random() < 0.2,
            )

    async def admit(self, bed: DemoBed | None = None) -> None:
        from ehr_bridge.adt_builder import AdtPatient
        from ehr_bridge.sandbox.seed import seed_patient

        free = self.free_beds()
        if not free:
            return
        bed = bed or self.rng.choice(free)
        n = next(self.counter)
        family, given, sex = self.rng.choice(NAMES)
        patient = AdtPatient(
            ipp=f"{900000 + n}",
            family=family,
            given=given,
            birth_date=date(
                1930 + self.rng.randrange(80),
                1 + self.rng.randrange(12),
                1 + self.rng.randrange(28),
            ),
            sex=sex,
            visit_number=f"V{700000 + n}",
        )
        seed_patient(
            self.demo.sandbox.store,
            ipp=patient.ipp,
            visit_number=patient.visit_number,
            location_id=bed.fhir_location,
            family=family,
            given=given,
            birth_date=patient.birth_date,
            gender="female" if sex == "F" else "male",
            gluten_free=self.rng.random() < 0.2,
            penicillin_allergy=self.rng.random() < 0.2,
        )
        self.admitted[patient.visit_number] = Admitted(patient, bed)
        if await self.adt("A01", patient.visit_number, bed) != "AA":
            del self.admitted[patient.visit_number]

    async def admit_corpus(self) -> None:
        """The corpus's patients (records written as real EHRs write them: coded allergies,
        every dosage form, a homonym, an Encounter filed on another patient, a duplicate
        record) in the first free beds, in UTF-8 (their names are not all Latin-1)."""
        from ehr_bridge.adt_builder import AdtPatient
        from ehr_bridge.sandbox.corpus import CORPUS_PATIENTS

        for p in CORPUS_PATIENTS.values():
            free = self.free_beds()
            if not free:
                return
            if p.visit_number in self.admitted:
                continue  # taken up from a previous run
            patient = AdtPatient(
                ipp=p.ipp,
                family=p.family,
                given=p.given,
                birth_date=p.birth_date,
                sex=p.sex,
                visit_number=p.visit_number,
            )
            self.admitted[p.visit_number] = Admitted(patient, free[0])
            if await self.adt("A01", p.visit_number, free[0], "UNICODE UTF-8") != "AA":
                del self.admitted[p.visit_number]

    async def transfer(self) -> None:
        free = self.free_beds()
        if not self.admitted or not free:
            return
        visit = self.rng.choice(sorted(self.admitted))
        target = self.rng.choice(free)
        if await self.adt("A02", visit, target) == "AA":
            self.admitted[visit].bed = target

    async def discharge(self) -> None:
        if len(self.admitted) <= 5:
            return
        visit = self.rng.choice(sorted(self.admitted))
        if await self.adt("A03", visit, self.admitted[visit].bed) == "AA":
            del self.admitted[visit]

    async def nurse_call(self) -> None:
        from bedside.contract import BadgeTap, NurseCallPressed
        from bedside.topics import Topics

        occupied = [a.bed for a in self.admitted.values() if a.bed.terminal]
        if not occupied:
            return
        bed = self.rng.choice(occupied)
        assert bed.terminal is not None
        topic = Topics().event(bed.terminal)
        press = NurseCallPressed(source="button", press_id=f"demo-{next(self.counter)}")
        async with aiomqtt.Client(
            "127.0.0.1", self.demo.broker_port, identifier=f"demo-press-{bed.terminal}"
        ) as client:
            await client.publish(topic, press.to_bytes(), qos=1)
            await asyncio.sleep(self.rng.uniform(8, 20))  # a nurse walks to the bed
            await client.publish(topic, BadgeTap(badge_id="BADGE-DEMO-1").to_bytes(), qos=1)


async def run_scenario(demo: DemoHospital, tick: float, seed: int | None) -> None:
    from telephony.simulator.demo import DemoCalls

    rng = random.Random(seed)
    scenario = Scenario(demo, rng)
    calls = DemoCalls(demo.pbx, patience=45, answer_after=4, answer_ratio=0.5, seed=seed)
    try:
        await _drive(scenario, calls, tick)
    finally:
        calls.stop()
        await scenario.sender.close()


async def _drive(scenario: Scenario, calls: Any, tick: float) -> None:
    scenario.beds = await demo_beds(scenario.demo)
    await scenario.resume()
    if scenario.beds[0].label not in {a.bed.label for a in scenario.admitted.values()}:
        await scenario.admit(scenario.beds[0])  # the TV of T-CARDIO-101-A greets someone
    await scenario.admit_corpus()
    for _ in range(min(30, len(scenario.beds) // 3) - len(scenario.admitted)):
        await scenario.admit()
    pending: set[asyncio.Task[None]] = set()
    try:
        await _loop(scenario, calls, tick, pending)
    finally:
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


async def _loop(
    scenario: Scenario, calls: Any, tick: float, pending: set[asyncio.Task[None]]
) -> None:
    rng = scenario.rng
    while True:
        await asyncio.sleep(tick)
        action = rng.choices(
            ["admit", "transfer", "discharge", "call", "nurse_call"],
            weights=[2, 1, 2, 6, 1],
        )[0]
        try:
            if action == "admit":
                await scenario.admit()
            elif action == "transfer":
                await scenario.transfer()
            elif action == "discharge":
                await scenario.discharge()
            elif action == "call":
                calls.place()
            else:
                task = asyncio.create_task(scenario.nurse_call())
                pending.add(task)
                task.add_done_callback(pending.discard)
        except (OSError, TimeoutError) as exc:
            log.warning("demo.step_failed", action=action, error=type(exc).__name__)
