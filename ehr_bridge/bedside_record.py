"""The bedside record of a stay, fetched from FHIR in parallel and cached per stay.

Round one (in parallel): the Encounter (by id, else by visit number) and the Patient (by IPP
system and value). The identity is then checked (``ehr_bridge.identity``): on any
disagreement nothing clinical is fetched, the stay gets an identity alert and
:class:`IdentityToBeChecked` goes up. Round two (in parallel): allergies, active and
on-hold prescriptions with their Medication (``_include``; the server Medications a server
did not include are read, and kept), recent vital signs, active diet orders and recent
administrations. A fresh cache entry is served as is; when the EHR is unreachable the cached
record is served marked stale with its age; with nothing cached the error goes up.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime, timedelta

import structlog

from ehr_bridge import fhir_mapping as fm
from ehr_bridge import fhir_orders as fo
from ehr_bridge import identity
from ehr_bridge.config import EhrOptions
from ehr_bridge.errors import FhirUnreachable, NotConfigured
from ehr_bridge.fhir_client import Resource, SharedSessionClient
from ehr_bridge.identity import IdentityToBeChecked
from wardline.db.base import utcnow
from wardline.domain.clinical_record_port import BedsideRecord, IdentityAlert
from wardline.domain.stay_views import StayView

IdentityHook = Callable[[StayView, IdentityToBeChecked], Awaitable[object]]
MEDICATIONS_KEPT = 2000

log = structlog.get_logger(__name__)


def _token(system: str | None, value: str) -> str:
    return f"{system}|{value}" if system else value


class BedsideRecords:
    def __init__(
        self,
        client: SharedSessionClient,
        options: EhrOptions,
        ttl_seconds: float,
        clock: Callable[[], datetime] = utcnow,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client, self.options, self.ttl = client, options, ttl_seconds
        self.clock, self.monotonic = clock, monotonic
        self._cache: OrderedDict[str, tuple[BedsideRecord, float]] = OrderedDict()
        self._locks: dict[str, asyncio.Lock] = {}
        self.fetches = 0
        self.last_error: str | None = None
        self.subjects: dict[str, tuple[str, str | None]] = {}
        """visit number -> (FHIR Patient id, Encounter id), for the bedside writes."""
        self._quiet_until = 0.0
        """After a failure, cached records are served stale without asking the EHR until
        then, so that pages do not wait on a dead server each time."""
        self.alerts: dict[str, IdentityAlert] = {}
        """visit number -> its open identity alert; nothing clinical is shown or written."""
        self.on_identity_problem: IdentityHook | None = None
        """Called once when a stay's alert opens (audit row)."""
        self._medications: OrderedDict[str, Resource] = OrderedDict()

    def require_identity(self, visit_number: str) -> None:
        """:class:`IdentityToBeChecked` when the stay has an open identity alert."""
        alert = self.alerts.get(visit_number)
        if alert is not None:
            raise identity.problem(alert.reason, visit_number)

    async def get(self, stay: StayView, *, refresh: bool = False) -> BedsideRecord:
        key = stay.visit_number
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:  # one fetch per stay at a time; the others get its result
            cached = self._cache.get(key)
            now = self.monotonic()
            if cached and not refresh and now - cached[1] < self.ttl:
                return replace(cached[0], age_seconds=now - cached[1])
            if cached and now < self._quiet_until:
                return replace(cached[0], stale=True, age_seconds=now - cached[1])
            try:
                record = await self.fetch(stay)
            except IdentityToBeChecked as exc:
                await self._identity_problem(stay, exc)
                raise
            except FhirUnreachable as exc:
                self.last_error = exc.error_id
                self._quiet_until = self.monotonic() + self.options.retry_after_failure_seconds
                if cached is None:
                    raise
                age = now - cached[1]
                log.warning("fhir.serving_stale", visit=key, age_seconds=round(age))
                return replace(cached[0], stale=True, age_seconds=age)
            self.last_error = None
            if self.alerts.pop(key, None) is not None:
                log.info("fhir.identity_confirmed", visit=key)
            self._cache[key] = (record, self.monotonic())
            self._cache.move_to_end(key)
            while len(self._cache) > self.options.cache_entries:
                old, _ = self._cache.popitem(last=False)
                self._locks.pop(old, None)
            return record

    def forget(self, visit_number: str) -> None:
        self._cache.pop(visit_number, None)

    async def _identity_problem(self, stay: StayView, exc: IdentityToBeChecked) -> None:
        key = stay.visit_number
        self._cache.pop(key, None)
        self.subjects.pop(key, None)
        if key in self.alerts:
            return
        self.alerts[key] = IdentityAlert(
            visit_number=key,
            bed=stay.bed.label if stay.bed else None,
            reason=exc.reason,
            since=self.clock(),
        )
        log.warning("fhir.identity_to_be_checked", visit=key, reason=exc.reason)
        if self.on_identity_problem is not None:
            await self.on_identity_problem(stay, exc)

    async def fetch(self, stay: StayView) -> BedsideRecord:
        self.fetches += 1
        ipp_system = self.options.ipp_system
        if not ipp_system:
            raise NotConfigured(
                "ehr.ipp_system_missing", "set WARDLINE_EHR_IPP_SYSTEM to the IPP system"
            )
        encounter, matches = await asyncio.gather(self._encounter(stay), self._patients(stay))
        patient = identity.the_patient(matches, stay, ipp_system)
        identity.check_patient(patient, stay)
        identity.check_encounter(encounter, str(patient.get("id")), stay)
        ref = f"Patient/{patient['id']}"
        self.subjects[stay.visit_number] = (
            str(patient["id"]),
            str(encounter["id"]) if encounter else None,
        )
        opts = self.options
        since = (self.clock() - timedelta(hours=opts.vitals_hours)).isoformat(timespec="seconds")
        day_start = (self.clock() - timedelta(days=1)).isoformat(timespec="seconds")
        count = str(opts.page_size)
        # ``subject`` where the resource has one: ``patient`` is defined with resolve() on
        # these types, which some engines (Medplum's) evaluate resource by resource.
        allergies, prescriptions, observations, diets, given = await asyncio.gather(
            self.client.search_all(
                "AllergyIntolerance", {"patient": ref, "_count": count}, opts.page_limit
            ),
            self.client.search_all(
                "MedicationRequest",
                {
                    "subject": ref,
                    "status": "active,on-hold",
                    "_include": "MedicationRequest:medication",
                    "_count": count,
                },
                opts.page_limit,
            ),
            self.client.search_all(
                "Observation",
                {
                    "subject": ref,
                    "category": "vital-signs",
                    "date": f"ge{since}",
                    "_sort": "-date",
                    "_count": count,
                },
                opts.page_limit,
            ),
            self.client.search_all(
                "NutritionOrder",
                {"patient": ref, "status": "active", "_count": count},
                opts.page_limit,
            ),
            self.client.search_all(
                "MedicationAdministration",
                {"subject": ref, "effective-time": f"ge{day_start}", "_count": count},
                opts.page_limit,
            ),
        )
        medications = await self._medications_of(prescriptions.matches, prescriptions.included)
        return fm.bedside_record(
            visit_number=stay.visit_number,
            patient=patient,
            allergies=allergies.matches,
            diets=diets.matches,
            prescriptions=prescriptions.matches,
            medications=medications,
            observations=observations.matches,
            administrations=given.matches,
            fetched_at=self.clock(),
        )

    async def visit_at_bed(self, location_id: str) -> str | None:
        """The visit number of the encounter in progress at a bed (FHIR Location id).
        The reference is typed (``Location/<id>``): some servers match nothing otherwise."""
        found = await self.client.search_all(
            "Encounter", {"location": f"Location/{location_id}", "status": "in-progress"}, 1
        )
        for encounter in found.matches:
            for ident in encounter.get("identifier", []) or []:
                system = self.options.visit_system
                if ident.get("value") and (system is None or ident.get("system") == system):
                    return str(ident["value"])
        return None

    async def _medications_of(
        self, requests: list[Resource], included: list[Resource]
    ) -> dict[str, Resource]:
        """The server Medications the orders refer to: included ones, kept ones, and the
        others read one by one (in parallel); an unknown one stays missing (the order is
        then to clarify)."""
        for resource in included:
            if resource.get("resourceType") == "Medication" and resource.get("id"):
                self._keep_medication(f"Medication/{resource['id']}", resource)
        wanted = fo.medication_references(requests)
        missing = sorted(r for r in wanted if r not in self._medications)
        read = await asyncio.gather(
            *(self.client.read("Medication", r.split("/", 1)[1]) for r in missing)
        )
        for ref, medication in zip(missing, read, strict=True):
            if medication is not None:
                self._keep_medication(ref, medication)
        return {r: self._medications[r] for r in wanted if r in self._medications}

    def _keep_medication(self, ref: str, resource: Resource) -> None:
        self._medications[ref] = resource
        self._medications.move_to_end(ref)
        while len(self._medications) > MEDICATIONS_KEPT:
            self._medications.popitem(last=False)

    async def _encounter(self, stay: StayView) -> Resource | None:
        """The visit's Encounter; :class:`IdentityToBeChecked` when its number names
        several."""
        if stay.fhir_encounter_id:
            return await self.client.read("Encounter", stay.fhir_encounter_id)
        found = await self.client.search_all(
            "Encounter",
            {"identifier": _token(self.options.visit_system, stay.visit_number), "_count": "10"},
            1,
        )
        if len({str(e.get("id")) for e in found.matches}) > 1:
            raise identity.problem("encounter.several", stay.visit_number)
        return found.matches[0] if found.matches else None

    async def _patients(self, stay: StayView) -> list[Resource]:
        """Every Patient that may be this stay's (checked by :func:`identity.the_patient`)."""
        if stay.patient.fhir_patient_id:
            known = await self.client.read("Patient", stay.patient.fhir_patient_id)
            return [known] if known is not None else []
        found = await self.client.search_all(
            "Patient",
            {"identifier": _token(self.options.ipp_system, stay.patient.ipp), "_count": "10"},
            1,
        )
        return found.matches
