"""The command line: ``wardline COMMAND``. Expected failures print one line and exit 2."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import inspect
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from wardline.errors import WardlineError
from wardline.logs import configure_logging
from wardline.settings import Settings, load_settings

Handler = Callable[[argparse.Namespace, Settings], Any]
EXIT_FAILURE = 2


def _edge_registrars() -> list[Callable[[Any], None]]:
    """Each edge's ``register_cli(subparsers)``; the edges are wired here, in the core."""
    from bedside.cli import register_cli as bedside
    from ehr_bridge.cli import register_cli as ehr_bridge
    from kiosk_ui.cli import register_cli as kiosk_ui
    from telephony.cli import register_cli as telephony

    return [telephony, bedside, ehr_bridge, kiosk_ui]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wardline",
        description="Wardline: bed phone lines, bedside terminals and the EHR bridge of a "
        "hospital's digital wards.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    serve = sub.add_parser("serve", help="run the service (web, AMI, MQTT, MLLP, workers)")
    serve.set_defaults(handler=cmd_serve)

    db = sub.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    db_sub.add_parser(
        "upgrade",
        help="migrate the database to the newest schema (as WARDLINE_DATABASE_OWNER_URL), then "
        "grant the service's role its rights",
    ).set_defaults(handler=cmd_db_upgrade)
    grant = db_sub.add_parser(
        "grant", help="grant the service's role (of WARDLINE_DATABASE_URL) its rights, as owner"
    )
    grant.add_argument("role", nargs="?", help="the service's role (default: from its URL)")
    grant.set_defaults(handler=cmd_db_grant)

    inv = sub.add_parser("inventory", help="sites, wards, rooms, beds, terminals and DIDs")
    inv_sub = inv.add_subparsers(dest="inventory_command", metavar="ACTION", required=True)
    load = inv_sub.add_parser("load", help="load an inventory YAML file (idempotent)")
    load.add_argument("file", type=Path)
    load.set_defaults(handler=cmd_inventory_load)

    audit = sub.add_parser("audit", help="the keyed, chained audit log")
    audit_sub = audit.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    audit_sub.add_parser(
        "verify", help="verify the chain and its checkpoints; report the first broken link"
    ).set_defaults(handler=cmd_audit_verify)
    audit_sub.add_parser(
        "checkpoint", help="append a signed checkpoint of the chain's head to the checkpoint file"
    ).set_defaults(handler=cmd_audit_checkpoint)

    user = sub.add_parser("user", help="staff accounts")
    user_sub = user.add_subparsers(dest="user_command", metavar="ACTION", required=True)
    add = user_sub.add_parser("add", help="add a staff account (nurse, switchboard, admin)")
    add.add_argument("username")
    add.add_argument("--name", required=True, help="display name")
    add.add_argument(
        "--role", action="append", required=True, choices=["nurse", "switchboard", "admin"]
    )
    add.add_argument("--ward", help="the nurse's ward code")
    add.add_argument("--language", default="fr", choices=["fr", "en", "de"])
    add.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password (and the PIN, second line) from standard input",
    )
    add.add_argument("--with-pin", action="store_true", help="also ask for a bedside PIN")
    add.add_argument("--badge", help="badge id (stored only as a keyed hash)")
    add.set_defaults(handler=cmd_user_add)

    demo = sub.add_parser(
        "demo", help="run the whole hospital on embedded defaults (simulators, SQLite, amqtt)"
    )
    demo.add_argument("--host", default="127.0.0.1", help="web address (default 127.0.0.1)")
    demo.add_argument("--port", type=int, default=8080, help="web port (default 8080)")
    demo.add_argument(
        "--scenario",
        choices=["on", "off"],
        default="on",
        help="drive admissions, calls and nurse calls (default on)",
    )
    demo.add_argument("--data-dir", type=Path, default=Path("data/demo"), help="demo state")
    demo.add_argument("--seed", type=int, help="seed of the scenario's choices")
    demo.set_defaults(handler=cmd_demo)

    for register in _edge_registrars():
        register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
        configure_logging(settings.log_level, settings.log_format)
        handler: Handler = args.handler
        result = handler(args, settings)
        if inspect.isawaitable(result):
            result = asyncio.run(result)  # type: ignore[arg-type]
        return int(result or 0)
    except WardlineError as exc:
        print(f"wardline: error: {exc.message}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return 130


# -- handlers ---------------------------------------------------------------------------------
async def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from wardline.demo import DemoOptions, run_demo

    options = DemoOptions(
        host=args.host,
        port=args.port,
        scenario=args.scenario == "on",
        data_dir=args.data_dir,
        seed=args.seed,
    )
    return await run_demo(options)


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from aiohttp import web

    from wardline.app import build_app

    app = build_app(settings)
    web.run_app(app, host=settings.http_host, port=settings.http_port, print=None)
    return 0


async def cmd_db_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    from wardline.db.engine import upgrade
    from wardline.db.roles import grant_service_role, role_of

    await upgrade(settings.effective_owner_url)
    print("database is at the newest schema")
    service = role_of(settings.effective_database_url)
    if settings.database_owner_url and service and service != role_of(settings.effective_owner_url):
        await grant_service_role(settings.effective_owner_url, service)
        print(f"role {service} has the service's rights")
    return 0


async def cmd_db_grant(args: argparse.Namespace, settings: Settings) -> int:
    from wardline.db.roles import grant_service_role, role_of

    role = args.role or role_of(settings.effective_database_url)
    if not role:
        raise WardlineError("cli.role", "name the service's role (no user in its URL)")
    if not await grant_service_role(settings.effective_owner_url, role):
        print("SQLite has no roles: nothing to grant")
        return 0
    print(f"role {role} has the service's rights")
    return 0


async def _open(settings: Settings) -> Any:
    from wardline.db.engine import Database, current_revisions
    from wardline.errors import StorageError

    db = Database(settings.effective_database_url)
    if not await db.ping():
        await db.dispose()
        raise StorageError("db.unavailable", "the database is unreachable")
    if not await current_revisions(db):
        await db.dispose()
        raise StorageError("db.empty", "the database has no schema: run `wardline db upgrade`")
    return db


async def cmd_inventory_load(args: argparse.Namespace, settings: Settings) -> int:
    from wardline.domain.audit import AuditLog
    from wardline.domain.commands import SYSTEM_ADMIN_CLI
    from wardline.domain.inventory import load_inventory
    from wardline.domain.inventory_file import read_inventory

    read_inventory(args.file)  # refuse a bad file before touching the database
    db = await _open(settings)
    try:
        report = await load_inventory(
            db, args.file, SYSTEM_ADMIN_CLI, AuditLog(key=settings.audit_key_bytes())
        )
    finally:
        await db.dispose()
    if report.changed:
        print(json.dumps({"created": report.created, "updated": report.updated}))
    else:
        print("inventory already up to date: nothing changed")
    return 0


async def cmd_audit_verify(args: argparse.Namespace, settings: Settings) -> int:
    from wardline.domain.audit_checkpoints import verify

    db = await _open(settings)
    try:
        report = await verify(
            db, settings.audit_key_bytes(), settings.effective_audit_checkpoint_file
        )
    finally:
        await db.dispose()
    if report.ok:
        print(f"audit chain intact: {report.rows} rows")
        return 0
    print(
        f"audit chain broken at row {report.broken_at}: {report.reason} "
        f"({report.rows} rows verified before it)",
        file=sys.stderr,
    )
    return 1


async def cmd_audit_checkpoint(args: argparse.Namespace, settings: Settings) -> int:
    from wardline.domain.audit_checkpoints import write_checkpoint

    db = await _open(settings)
    try:
        path = settings.effective_audit_checkpoint_file
        checkpoint = await write_checkpoint(db, settings.audit_key_bytes(), path)
    finally:
        await db.dispose()
    if checkpoint is None:
        raise WardlineError(
            "audit.no_head", "the audit chain has no head: run `wardline db upgrade`"
        )
    print(f"checkpoint of row {checkpoint.seq} appended to {path}")
    return 0


def _read_secret(prompt: str, from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        if not line:
            raise WardlineError("cli.stdin", f"{prompt.lower()} expected on standard input")
        return line.rstrip("\n")
    return getpass.getpass(f"{prompt}: ")


async def cmd_user_add(args: argparse.Namespace, settings: Settings) -> int:
    from wardline.domain.audit import AuditLog
    from wardline.domain.commands import SYSTEM_ADMIN_CLI
    from wardline.domain.staff import StaffDirectory

    password = _read_secret("Password", args.password_stdin)
    pin = _read_secret("PIN", args.password_stdin) if args.with_pin else None
    db = await _open(settings)
    try:
        audit = AuditLog(key=settings.audit_key_bytes())
        user = await StaffDirectory(db, audit).add_user(
            SYSTEM_ADMIN_CLI,
            username=args.username,
            display_name=args.name,
            roles=set(args.role),
            password=password,
            pin=pin,
            badge=args.badge,
            ward_code=args.ward,
            language=args.language,
        )
    finally:
        await db.dispose()
    print(f"user {user.username} added with roles {', '.join(sorted(user.roles))}")
    return 0
