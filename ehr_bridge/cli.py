"""``wardline ehr ...``: the FHIR sandbox, and the bedside record of a bed's stay."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ehr_bridge.errors import NotConfigured
from wardline.errors import StorageError
from wardline.settings import Settings


def register_cli(subparsers: Any) -> None:
    ehr = subparsers.add_parser("ehr", help="EHR bridge: FHIR sandbox, bedside record")
    sub = ehr.add_subparsers(dest="ehr_command", metavar="ACTION", required=True)
    sandbox = sub.add_parser(
        "sandbox", help="run the FHIR sandbox, seeded for the example hospital"
    )
    sandbox.add_argument("--port", type=int, default=8090, help="TCP port (default 8090)")
    sandbox.add_argument("--host", default="127.0.0.1", help="address (default 127.0.0.1)")
    sandbox.add_argument("--token", help="require this bearer token")
    sandbox.add_argument("--beds", type=int, default=120, help="beds of the example inventory")
    sandbox.set_defaults(handler=cmd_sandbox)
    demo = sub.add_parser(
        "demo-adt", help="send admissions of the sandbox's example patients to the ADT listener"
    )
    demo.add_argument("--host", help="listener address (default: WARDLINE_MLLP_HOST)")
    demo.add_argument("--port", type=int, help="listener port (default: WARDLINE_MLLP_PORT)")
    demo.add_argument("--beds", type=int, default=120, help="beds of the example inventory")
    demo.set_defaults(handler=cmd_demo_adt)
    context = sub.add_parser("context", help="print the bedside record of a bed's stay as JSON")
    context.add_argument("bed", help="bed label, e.g. CARDIO-101-A")
    context.set_defaults(handler=cmd_context)


def cmd_sandbox(args: argparse.Namespace, settings: Settings) -> int:
    from aiohttp import web

    from ehr_bridge.sandbox.corpus import load_corpus
    from ehr_bridge.sandbox.seed import example_bed_locations, seed_example
    from ehr_bridge.sandbox.server import SandboxAuth, sandbox_app
    from ehr_bridge.sandbox.store import SandboxStore

    if not 0 <= args.port <= 65535:
        print("wardline: error: --port must be between 0 and 65535", file=sys.stderr)
        return 2
    store = SandboxStore()
    patients = seed_example(store, example_bed_locations(args.beds))
    load_corpus(store)
    print(f"FHIR sandbox on http://{args.host}:{args.port} ({patients} patients)", flush=True)
    web.run_app(
        sandbox_app(store, SandboxAuth(token=args.token)),
        host=args.host,
        port=args.port,
        print=None,
        access_log=None,
    )
    return 0


async def cmd_demo_adt(args: argparse.Namespace, settings: Settings) -> int:
    from ehr_bridge.errors import EhrError
    from ehr_bridge.sandbox.demo_feed import send_admissions
    from ehr_bridge.sandbox.seed import example_patients

    host, port = args.host or settings.mllp_host, args.port or settings.mllp_port
    try:
        codes = await send_admissions(host, port, example_patients(args.beds))
    except OSError as exc:
        raise EhrError("mllp.unreachable", f"no ADT listener on {host}:{port}") from exc
    print(", ".join(f"{code}: {n}" for code, n in sorted(codes.items())))
    return 0 if set(codes) <= {"AA"} else 1


async def cmd_context(args: argparse.Namespace, settings: Settings) -> int:
    """Print what the nurse sees at the bed as JSON; the access is audited. Exit 0, 2 when
    the bed has no stay, 3 when the identity is to be checked (nothing clinical printed)."""
    import aiohttp

    from ehr_bridge.bedside_record import BedsideRecords
    from ehr_bridge.component import load_options, token_source
    from ehr_bridge.fhir_client import SharedSessionClient
    from ehr_bridge.identity import IdentityToBeChecked
    from ehr_bridge.med_schedule import Ward, schedule_for_day
    from ehr_bridge.nurse_view import identity_view, nurse_view
    from wardline.bus import EventBus
    from wardline.db.base import utcnow
    from wardline.db.engine import Database
    from wardline.domain.audit import AuditLog
    from wardline.domain.commands import SYSTEM_ADMIN_CLI
    from wardline.domain.stays import Stays
    from wardline.ward_time import WardTime

    if not settings.fhir_url:
        raise NotConfigured("ehr.not_configured", "set WARDLINE_FHIR_URL to the FHIR server")
    options = load_options()
    db = Database(settings.effective_database_url)
    audit = AuditLog(key=settings.audit_key_bytes())
    try:
        if not await db.ping():
            raise StorageError("db.unavailable", "the database is unreachable")
        stay = await Stays(db, EventBus(), audit).stay_for_bed(args.bed)
        if stay is None:
            print(f"wardline: error: bed {args.bed} has no active stay", file=sys.stderr)
            return 2
        bed = stay.bed
        tz = (
            await WardTime(db, settings).of_ward(bed.ward_code)
            if bed
            else ZoneInfo(settings.timezone)
        )
        view: dict[str, Any]
        async with aiohttp.ClientSession() as session:
            client = SharedSessionClient(
                settings.fhir_url,
                session,
                token_source(settings, session, options),
                timeout=options.request_timeout,
            )
            try:
                record = await BedsideRecords(client, options, 0).get(stay)
            except IdentityToBeChecked as exc:
                view = identity_view(args.bed, stay.visit_number, exc.reason)
            else:
                now = utcnow()
                day = now.astimezone(tz).date()
                ward = Ward(timezone=tz, tolerance=timedelta(minutes=options.dose_window_minutes))
                schedule = schedule_for_day(
                    record.orders, day, ward, list(record.administrations), now
                )
                view = nurse_view(args.bed, record, schedule, day, tz)
        async with db.session() as s:
            await audit.record(
                s,
                SYSTEM_ADMIN_CLI.name,
                "ehr.context_view"
                if view["identity"] == "checked"
                else "ehr.identity_to_be_checked",
                "stay",
                stay.visit_number,
                {"bed": args.bed, "reason": view.get("reason")},
            )
    finally:
        await db.dispose()
    print(json.dumps(view, ensure_ascii=False, indent=2))
    return 0 if view["identity"] == "checked" else 3
