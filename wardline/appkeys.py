"""Typed keys of the application's state, shared by the core and the edges."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from aiohttp import web
from prometheus_client import CollectorRegistry

from wardline.bus import EventBus
from wardline.cluster.leases import Leases
from wardline.db.engine import Database
from wardline.domain.adt_feed_port import AdtFeedPort
from wardline.domain.audit import AuditLog
from wardline.domain.clinical_record_port import ClinicalRecordPort
from wardline.domain.nurse_call_port import NurseCallPort, NurseCallRingPort
from wardline.domain.staff import StaffDirectory
from wardline.domain.stays import Stays
from wardline.domain.switchboard_port import AstDB, Switchboard
from wardline.loop_monitor import LoopMonitor
from wardline.ops import Readiness
from wardline.settings import Settings
from wardline.ward_time import WardTime

SETTINGS = web.AppKey("settings", Settings)
DATABASE = web.AppKey("database", Database)
BUS = web.AppKey("bus", EventBus)
AUDIT = web.AppKey("audit", AuditLog)
STAYS = web.AppKey("stays", Stays)
STAFF = web.AppKey("staff", StaffDirectory)
WARD_TIME = web.AppKey("ward_time", WardTime)
READINESS = web.AppKey("readiness", Readiness)
METRICS = web.AppKey("metrics", CollectorRegistry)
LOOP_MONITOR = web.AppKey("loop_monitor", LoopMonitor)
LEASES = web.AppKey("leases", Leases)
"""This instance's leases on the duties that must happen once (``wardline.cluster``)."""
Clock = Callable[[], datetime]
CLOCK: web.AppKey[Clock] = web.AppKey("clock")

# Ports: implemented by one edge, used by others (the web) through the Protocol only.
SWITCHBOARD: web.AppKey[Switchboard] = web.AppKey("switchboard")
ASTDB: web.AppKey[AstDB] = web.AppKey("astdb")
CLINICAL_RECORD: web.AppKey[ClinicalRecordPort] = web.AppKey("clinical_record")
ADT_FEED: web.AppKey[AdtFeedPort] = web.AppKey("adt_feed")
NURSE_CALLS: web.AppKey[NurseCallPort] = web.AppKey("nurse_calls")
NURSE_CALL_RINGS: web.AppKey[NurseCallRingPort] = web.AppKey("nurse_call_rings")
