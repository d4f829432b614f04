"""The bedside record of a stay, fetched from FHIR in parallel and cached per stay.

Round one (in parallel): the Encounter (by id, else by visit number) and the Patient (by IPP).
Round two (in parallel): allergies, active prescriptions with their Medication (``_include``),
recent vital signs, active diet orders and recent administrations. A fresh cache entry is
served as is; when the EHR is unreachable the cached record is served marked stale with its
age; with nothing cached the error goes up.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

import structlog

from ehr_bridge import fhir_mapping as fm
from ehr_bridge.config import EhrOptions
from ehr_bridge.errors import FhirRefused, FhirUnreachable
from ehr_bridge.fhir_client import Resource, SharedSessionClient
from wardline.db.base import utcnow
from wardline.domain.clinical_record_port import BedsideRecord
from wardline.domain.stay_views import StayView

log = structlog.get_logger(__name__)


class RecordNotFound(FhirRefused):
    """The EHR does not know this stay's patient or encounter."""


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
            except FhirUnreachable as exc:
                self.last_error = exc.error_id
                self._quiet_until = self.monotonic() + self.options.retry_after_failure_seconds
                if cached is None:
                    raise
                age = now - cached[1]
                log.warning("fhir.serving_stale", visit=key, age_seconds=round(age))
                return replace(cached[0], stale=True, age_seconds=age)
            self.last_error = None
            self._cache[key] = (record, self.monotonic())
            self._cache.move_to_end(key)
            while len(self._cache) > self.options.cache_entries:
                old, _ = self._cache.popitem(last=False)
                self._locks.pop(old, None)
            return record

    def forget(self, visit_number: str) -> None:
        self._cache.pop(visit_number, None)

    async def fetch(self, stay: StayView) -> BedsideRecord:
        self.fetches += 1
        encounter, patient = await asyncio.gather(self._encounter(stay), self._patient(stay))
        if patient is None and encounter is not None:
            pid = fm.reference_id(encounter.get("subject"), "Patient")
            patient = await self.client.read("Patient", pid) if pid else None
        if patient is None:
            raise RecordNotFound("fhir.patient_unknown", "the EHR does not know this patient")
        ref = f"Patient/{patient['id']}"
        self.subjects[stay.visit_number] = (
            str(patient["id"]),
            str(encounter["id"]) if encounter else None,
        )
        opts = self.options
        since = (self.clock() - timedelta(hours=opts.vitals_hours)).isoformat(timespec="seconds")
        day_start = (self.clock() - timedelta(days=1)).isoformat(timespec="seconds")
        count = str(opts.page_size)
        allergies, prescriptions, observations, diets, given = await asyncio.gather(
            self.client.search_all(
                "AllergyIntolerance", {"patient": ref, "_count": count}, opts.page_limit
            ),
            self.client.search_all(
                "MedicationRequest",
                {
                    "patient": ref,
                    "status": "active",
                    "_include": "MedicationRequest:medication",
                    "_count": count,
                },
                opts.page_limit,
            ),
            self.client.search_all(
                "Observation",
                {
                    "patient": ref,
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
                {"patient": ref, "effective-time": f"ge{day_start}", "_count": count},
                opts.page_limit,
            ),
        )
        return fm.bedside_record(
            visit_number=stay.visit_number,
            patient=patient,
            allergies=allergies.matches,
            diets=diets.matches,
            prescriptions=prescriptions.matches,
            included=prescriptions.included,
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

    async def _encounter(self, stay: StayView) -> Resource | None:
        if stay.fhir_encounter_id:
            return await self.client.read("Encounter", stay.fhir_encounter_id)
        found = await self.client.search_all(
            "Encounter", {"identifier": _token(self.options.visit_system, stay.visit_number)}, 1
        )
        return found.matches[0] if found.matches else None

    async def _patient(self, stay: StayView) -> Resource | None:
        if stay.patient.fhir_patient_id:
            return await self.client.read("Patient", stay.patient.fhir_patient_id)
        found = await self.client.search_all(
            "Patient", {"identifier": _token(self.options.ipp_system, stay.patient.ipp)}, 1
        )
        return found.matches[0] if found.matches else None
