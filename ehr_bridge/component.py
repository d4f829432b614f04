"""Wiring of the EHR bridge into the application: ``setup(app)``.

Two cleanup contexts: the FHIR side (one shared aiohttp session, the client, the bedside
record cache, the outbox worker task) when ``WARDLINE_FHIR_URL`` is set, and the ADT listener
(MLLP) when ``WARDLINE_MLLP_ENABLED``. ``app[CLINICAL_RECORD]`` is set at setup time to a
facade that delegates to the running implementation (the app is frozen once started).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date

import aiohttp
import structlog
from aiohttp import web
from pydantic import ValidationError

from ehr_bridge.adt_feed import AdtFeed
from ehr_bridge.adt_listener import AdtListener
from ehr_bridge.adt_processing import AdtProcessor
from ehr_bridge.bedside_record import BedsideRecords
from ehr_bridge.clinical_record import EhrClinicalRecord
from ehr_bridge.config import EhrOptions
from ehr_bridge.errors import NotConfigured
from ehr_bridge.fhir_auth import ClientCredentials, NoToken, StaticToken, TokenSource
from ehr_bridge.fhir_client import SharedSessionClient
from ehr_bridge.health import register_health
from ehr_bridge.outbox import OutboxWorker
from wardline import appkeys as k
from wardline.cluster.leases import OUTBOX
from wardline.domain.clinical_record_port import (
    AdministrationInput,
    BedsideRecord,
    IdentityAlert,
    OutboxItem,
    ScheduledDose,
    VitalsInput,
    WriteReceipt,
)
from wardline.domain.commands import Actor
from wardline.domain.stay_views import StayView
from wardline.errors import ConfigError
from wardline.settings import Settings

log = structlog.get_logger(__name__)


@dataclass
class EhrBridge:
    """The running parts (None until started, or when not configured)."""

    options: EhrOptions
    processor: AdtProcessor | None = None
    listener: AdtListener | None = None
    client: SharedSessionClient | None = None
    records: BedsideRecords | None = None
    worker: OutboxWorker | None = None
    clinical_record: EhrClinicalRecord | None = None


class ClinicalRecordFacade:
    """Implements the port for the web edge; delegates to the started implementation."""

    def __init__(self, bridge: EhrBridge) -> None:
        self.bridge = bridge

    def _impl(self) -> EhrClinicalRecord:
        if self.bridge.clinical_record is None:
            raise NotConfigured("ehr.not_configured", "no FHIR server is configured")
        return self.bridge.clinical_record

    async def record_for_stay(self, stay: StayView) -> BedsideRecord:
        return await self._impl().record_for_stay(stay)

    async def medication_schedule(
        self, stay: StayView, day: date | None = None
    ) -> list[ScheduledDose]:
        return await self._impl().medication_schedule(stay, day)

    async def record_administration(
        self, stay: StayView, entry: AdministrationInput, actor: Actor
    ) -> WriteReceipt:
        return await self._impl().record_administration(stay, entry, actor)

    async def record_vitals(self, stay: StayView, entry: VitalsInput, actor: Actor) -> WriteReceipt:
        return await self._impl().record_vitals(stay, entry, actor)

    async def outbox_state(self, visit_number: str | None = None) -> list[OutboxItem]:
        return await self._impl().outbox_state(visit_number)

    def identity_alerts(self) -> list[IdentityAlert]:
        record = self.bridge.clinical_record
        return record.identity_alerts() if record is not None else []


EHR = web.AppKey("ehr_bridge", EhrBridge)
CLINICAL_RECORD = k.CLINICAL_RECORD
ADT_FEED = k.ADT_FEED


def token_source(
    settings: Settings, session: aiohttp.ClientSession, options: EhrOptions
) -> TokenSource:
    if settings.fhir_token_url and settings.fhir_client_id and settings.fhir_client_secret:
        return ClientCredentials(
            session,
            settings.fhir_token_url,
            settings.fhir_client_id,
            settings.fhir_client_secret.get_secret_value(),
            margin=options.token_refresh_margin_seconds,
            timeout=options.request_timeout,
        )
    if settings.fhir_token is not None:
        return StaticToken(settings.fhir_token.get_secret_value())
    return NoToken()


async def _fhir_context(app: web.Application) -> AsyncIterator[None]:
    settings, bridge = app[k.SETTINGS], app[EHR]
    if not settings.fhir_url:
        log.info("fhir.disabled")
        yield
        return
    options = bridge.options
    async with aiohttp.ClientSession() as session:
        client = SharedSessionClient(
            settings.fhir_url,
            session,
            token_source(settings, session, options),
            timeout=options.request_timeout,
        )
        records = BedsideRecords(
            client, options, settings.fhir_cache_ttl_seconds, clock=app[k.CLOCK]
        )
        worker = OutboxWorker(
            app[k.DATABASE], client, options, clock=app[k.CLOCK], bus=app[k.BUS],
            lease=app[k.LEASES].duty(OUTBOX),
        )  # fmt: skip
        bridge.client, bridge.records, bridge.worker = client, records, worker
        bridge.clinical_record = EhrClinicalRecord(
            app[k.DATABASE],
            records,
            app[k.AUDIT].record,
            options,
            worker=worker,
            clock=app[k.CLOCK],
            ward_time=app[k.WARD_TIME],
        )
        task = asyncio.create_task(worker.run(), name="ehr:outbox")
        task.add_done_callback(_log_end)
        log.info("fhir.ready", url=settings.fhir_url)
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            bridge.clinical_record = bridge.client = bridge.records = bridge.worker = None


def _log_end(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("outbox.worker_died", error=type(task.exception()).__name__)


async def _adt_context(app: web.Application) -> AsyncIterator[None]:
    settings, bridge = app[k.SETTINGS], app[EHR]
    if not settings.mllp_enabled:
        yield
        return
    processor = _new_processor(app, bridge)
    listener = AdtListener(processor, settings.mllp_host, settings.mllp_port)
    await listener.start()
    bridge.processor, bridge.listener = processor, listener
    try:
        yield
    finally:
        await listener.stop()
        bridge.processor = bridge.listener = None


def _new_processor(app: web.Application, bridge: EhrBridge) -> AdtProcessor:
    return AdtProcessor(
        app[k.DATABASE],
        app[k.STAYS],
        default_charset=app[k.SETTINGS].hl7_default_charset,
        ward_aliases=bridge.options.ward_aliases,
        zones=bridge.options.local_zones(),
        ward_time=app[k.WARD_TIME],
        ignored_events=bridge.options.hl7_ignored_events,
        clock=app[k.CLOCK],
        bus=app[k.BUS],
    )


def load_options() -> EhrOptions:
    """``WARDLINE_EHR_*`` settings; a bad value is one clear :class:`ConfigError`."""
    try:
        return EhrOptions()
    except ValidationError as exc:
        first = exc.errors()[0]
        name = ".".join(str(p) for p in first["loc"])
        raise ConfigError(
            "config.invalid", f"invalid setting WARDLINE_EHR_{name.upper()}: {first['msg']}"
        ) from exc


def setup(app: web.Application) -> None:
    bridge = EhrBridge(options=load_options())
    if app[k.SETTINGS].fhir_url and not bridge.options.ipp_system:
        raise ConfigError(
            "config.invalid",
            "WARDLINE_EHR_IPP_SYSTEM is required when WARDLINE_FHIR_URL is set"
            " (the FHIR identifier system of the hospital's IPP)",
        )
    app[EHR] = bridge
    app[CLINICAL_RECORD] = ClinicalRecordFacade(bridge)

    def processor() -> AdtProcessor:
        # the listener's own (its per-patient order), or one for replays when it is off
        if bridge.processor is None:
            bridge.processor = _new_processor(app, bridge)
        return bridge.processor

    app[ADT_FEED] = AdtFeed(app[k.DATABASE], processor, app[k.AUDIT].record)
    app.cleanup_ctx.append(_fhir_context)
    app.cleanup_ctx.append(_adt_context)
    register_health(app, bridge)
