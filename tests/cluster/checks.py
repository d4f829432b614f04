"""What the cluster must hold after the chaos, read from the sources of truth: the database
(inbox, stays, nurse calls, outbox), the PBX's AstDB, the EHR's creates."""

from __future__ import annotations

import asyncio
import base64
import itertools
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg

from ehr_bridge.outbox import QueuedWrite, enqueue
from telephony.lines.astdb_keys import ACTIVE, ON, bed_key
from tests.cluster.harness import AUDIT_KEY, Cluster
from tests.cluster.load import AdtFeed, AdtPlan, Press, RingRecorder

BUSINESS_ID_SYSTEM = "urn:wardline:bedside-write"
PATIENT_ID = "cluster-patient-1"


def plain_url(database_url: str) -> str:
    return database_url.replace("postgresql+asyncpg://", "postgresql://")


async def fetch(cluster: Cluster, query: str, *args: object) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(plain_url(cluster.database_url))
    try:
        return list(await conn.fetch(query, *args))
    finally:
        await conn.close()


@dataclass
class Findings:
    """Every broken promise found, by kind (empty lists: all held)."""

    problems: dict[str, list[str]] = field(default_factory=dict)

    def add(self, kind: str, text: str) -> None:
        self.problems.setdefault(kind, []).append(text)

    def report(self) -> str:
        return "\n".join(
            f"{kind}: {len(items)} e.g. {items[:5]}" for kind, items in self.problems.items()
        )


async def adt_findings(cluster: Cluster, feeds: list[AdtFeed], plan: AdtPlan) -> Findings:
    """Every acked message once in the inbox and applied; each stay where the plan left it."""
    found = Findings()
    acked = {c: code for f in feeds for c, code in f.acked.items()}
    sent = {s.control_id for f in feeds for s in f.sent}
    for control in sorted(sent - set(acked)):
        found.add("adt.never_acked", control)
    for control, code in sorted(acked.items()):
        if code != "AA":
            found.add("adt.refused", f"{control}={code}")
    rows = await fetch(cluster, "SELECT control_id, status, error_id FROM inbound_messages")
    counts = Counter(r["control_id"] for r in rows)
    for control in acked:
        if counts[control] != 1:
            found.add("adt.lost_or_doubled", f"{control} x{counts[control]}")
    for r in rows:
        if r["status"] != "applied":
            found.add("adt.not_applied", f"{r['control_id']} {r['status']} {r['error_id']}")
    stays = await fetch(
        cluster,
        "SELECT s.visit_number, s.status, b.extension FROM stays s "
        "LEFT JOIN beds b ON b.id = s.bed_id",
    )
    by_visit: dict[str, list[asyncpg.Record]] = {}
    for s in stays:
        by_visit.setdefault(s["visit_number"], []).append(s)
    for visit, planned in plan.stays.items():
        got = by_visit.get(visit, [])
        if len(got) != 1:
            found.add("stay.count", f"{visit} x{len(got)}")
            continue
        row = got[0]
        if planned.discharged and row["status"] == "active":
            found.add("stay.not_discharged", visit)
        if not planned.discharged and (
            row["status"] != "active" or row["extension"] != planned.beds[-1].extension
        ):
            found.add("stay.misplaced", f"{visit} {row['status']} {row['extension']}")
    return found


async def line_findings(cluster: Cluster) -> Findings:
    """AstDB equal to the stays: every occupied bed's line on, every other off; each active
    stay's DID routes to its bed and no other DID routes anywhere."""
    found = Findings()
    rows = await fetch(
        cluster,
        "SELECT b.extension, s.did FROM stays s JOIN beds b ON b.id = s.bed_id "
        "WHERE s.status = 'active'",
    )
    active = {r["extension"]: r["did"] for r in rows}
    astdb = cluster.pbx.pbx.astdb
    for bed in cluster.beds:
        on = astdb.get(bed_key(bed.extension, ACTIVE)) == ON
        if on != (bed.extension in active):
            found.add("line.state", f"{bed.extension} on={on} occupied={bed.extension in active}")
    routed = cluster.pbx.dids()
    wanted = {did: ext for ext, did in active.items() if did}
    if routed != wanted:
        extra = {d: e for d, e in routed.items() if wanted.get(d) != e}
        missing = {d: e for d, e in wanted.items() if routed.get(d) != e}
        found.add("line.did", f"extra={extra} missing={missing}")
    return found


async def nurse_call_findings(
    cluster: Cluster, presses: list[Press], rings: RingRecorder
) -> Findings:
    """Each press raised exactly one call, on its bed, rung at its ward's station."""
    found = Findings()
    rows = await fetch(cluster, "SELECT id, press_key, bed_label FROM nurse_calls")
    by_bed = Counter(r["bed_label"] for r in rows)
    by_key = {r["press_key"]: r for r in rows}
    for press in presses:
        row = by_key.get(press.key)
        if row is None:
            found.add("nurse_call.lost", press.bed.label)
            continue
        if by_bed[press.bed.label] != 1:
            found.add("nurse_call.doubled", f"{press.bed.label} x{by_bed[press.bed.label]}")
        if not rings.rang(row["id"], press.bed.station):
            found.add("nurse_call.not_rung", f"{press.bed.label} call {row['id']}")
    return found


class BedsideWrites:
    """Writes queued at the bed (through the product's outbox, in the shared database), to be
    delivered to the EHR once each by whichever instance works the outbox."""

    def __init__(self, cluster: Cluster) -> None:
        from wardline.db.engine import Database
        from wardline.domain.audit import AuditLog

        self.cluster = cluster
        self.db = Database(cluster.database_url)
        self.audit = AuditLog(key=base64.urlsafe_b64decode(AUDIT_KEY))
        self.ids: list[str] = []
        self._n = itertools.count(1)
        cluster.fhir.store.add({"resourceType": "Patient", "id": PATIENT_ID})

    async def queue_one(self) -> None:
        bid = f"cluster-vital-{next(self._n)}"
        resource: dict[str, Any] = {
            "resourceType": "Observation",
            "status": "final",
            "identifier": [{"system": BUSINESS_ID_SYSTEM, "value": bid}],
            "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
            "subject": {"reference": f"Patient/{PATIENT_ID}"},
            "valueQuantity": {"value": 72, "unit": "/min"},
        }
        write = QueuedWrite(
            business_id=bid, kind="vitals", resource=resource,
            visit_number="VC-OUTBOX", patient_ipp="7700000",
        )  # fmt: skip
        await enqueue(
            self.db, self.audit.record, [write], actor="nurse:cluster",
            action="ehr.vitals", details={"kinds": ["pulse"]}, now=datetime.now(UTC),
        )  # fmt: skip
        self.ids.append(bid)

    async def run(self, stop: asyncio.Event, every: float) -> None:
        while not stop.is_set():
            await self.queue_one()
            await asyncio.sleep(every)

    async def close(self) -> None:
        await self.db.dispose()

    async def delivered(self) -> bool:
        rows = await fetch(
            self.cluster, "SELECT count(*) AS n FROM ehr_outbox WHERE state <> 'delivered'"
        )
        return rows[0]["n"] == 0

    def findings(self, kills: int) -> Findings:
        """Each write created once at the EHR; a write sent again only because the instance
        sending it died before it could mark it delivered (at most one per kill)."""
        found = Findings()
        posts, created = self.cluster.fhir.posts, self.cluster.fhir.created
        for bid in self.ids:
            if created[bid] != 1:
                found.add("outbox.created", f"{bid} x{created[bid]}")
        again = sum(n - 1 for bid, n in posts.items() if bid in self.ids and n > 1)
        if again > kills:
            found.add("outbox.sent_again", f"{again} repeated sends for {kills} kills")
        return found
