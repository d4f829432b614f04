"""``wardline line ...``: line management from the command line (admin), applied at once.

The change is made through :class:`wardline.domain.lines.Lines` (one transaction, audited
under ``--actor``), then written to the PBX over AMI by this process; when the PBX cannot be
reached the change is kept and the service's next reconcile applies it.
"""

from __future__ import annotations

import argparse
from typing import Any

from telephony.calls.session import LinkTuning, PbxSession
from telephony.lines.bed_lines import BedLines
from wardline.bus import EventBus
from wardline.domain.commands import Actor
from wardline.domain.events import DomainEvent
from wardline.domain.lines import BARRING_LEVELS, Lines
from wardline.errors import StorageError, WardlineError
from wardline.settings import Settings


def register(subparsers: Any) -> None:
    line = subparsers.add_parser(
        "line", help="manage a bed line: suspend, restore, barring, do-not-disturb, swap DID"
    )
    line.add_argument("--actor", default="system:cli", help="who asks (written to the audit)")
    sub = line.add_subparsers(dest="line_command", metavar="ACTION", required=True)
    for name, text in (
        ("suspend", "suspend the line of a stay"),
        ("restore", "restore a suspended line"),
        ("swap-did", "give the stay another direct number (the old one into quarantine)"),
    ):
        cmd = sub.add_parser(name, help=text)
        cmd.add_argument("visit", help="visit number of the stay")
        cmd.set_defaults(handler=cmd_line)
    barring = sub.add_parser("barring", help="set the barring level of a line")
    barring.add_argument("visit", help="visit number of the stay")
    barring.add_argument("level", choices=BARRING_LEVELS, help="what the line may call")
    barring.set_defaults(handler=cmd_line)
    dnd = sub.add_parser("dnd", help="set do-not-disturb on or off")
    dnd.add_argument("visit", help="visit number of the stay")
    dnd.add_argument("state", choices=("on", "off"), help="do not disturb on or off")
    dnd.set_defaults(handler=cmd_line)


async def cmd_line(args: argparse.Namespace, settings: Settings) -> int:
    from datetime import timedelta

    from wardline.db.engine import Database
    from wardline.domain.audit import AuditLog

    db = Database(settings.effective_database_url)
    bus = EventBus()
    events: list[DomainEvent] = []

    async def keep(event: DomainEvent) -> None:
        events.append(event)

    bus.subscribe(DomainEvent, keep, name="line-cli")
    await bus.start()
    try:
        if not await db.ping():
            raise StorageError("db.unavailable", "the database is unreachable")
        lines = Lines(
            db,
            bus,
            AuditLog(key=settings.audit_key_bytes()),
            quarantine=timedelta(hours=settings.did_quarantine_hours),
        )
        actor, visit = Actor(name=args.actor), args.visit
        action = args.line_command
        if action == "suspend":
            await lines.suspend(visit, actor)
        elif action == "restore":
            await lines.restore(visit, actor)
        elif action == "barring":
            await lines.set_barring(visit, args.level, actor)
        elif action == "dnd":
            await lines.set_do_not_disturb(visit, args.state == "on", actor)
        else:
            await lines.swap_did(visit, actor)
        await bus.drain()
        print(f"stay {visit}: {action} done" if events else f"stay {visit}: already so")
        if events and settings.ami_enabled:
            await _apply(settings, db, events)
    finally:
        await bus.stop()
        await db.dispose()
    return 0


async def _apply(settings: Settings, db: Any, events: list[DomainEvent]) -> None:
    session = PbxSession.from_settings(settings, tuning=LinkTuning(backoff_initial=30.0))
    await session.start()
    try:
        await session.link.wait_synced(settings.ami_action_timeout * 2)
        bed_lines = BedLines(session.actions, db)
        for event in events:
            await bed_lines.on_stay_event(event)
        if bed_lines.pending_repair:
            raise WardlineError("line.not_applied", "write failed")
        print("applied to the PBX")
    except WardlineError:
        print("the PBX was not reached: the service applies the change at its next reconcile")
    finally:
        await session.stop()
