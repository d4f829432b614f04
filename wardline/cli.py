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
    from video.cli import register_cli as video

    return [telephony, bedside, ehr_bridge, kiosk_ui, video]


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("wardline")
    except PackageNotFoundError:
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wardline",
        description="Wardline: bed phone lines, bedside terminals and the EHR bridge of a "
        "hospital's digital wards.",
        epilog="Settings come from WARDLINE_* environment variables or the TOML file named by "
        "WARDLINE_CONFIG (README: Settings). `wardline COMMAND --help` says what each reads.",
    )
    parser.add_argument("--version", action="version", version=f"wardline {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    serve = sub.add_parser(
        "serve",
        help="run the service (web, AMI, MQTT, MLLP, workers)",
        description="Run the service until SIGINT or SIGTERM: the web pages and API "
        "(WARDLINE_HTTP_HOST, WARDLINE_HTTP_PORT), the Asterisk AMI link (WARDLINE_AMI_*), the "
        "MQTT link to the terminals (WARDLINE_MQTT_URL), the HL7 ADT listener (WARDLINE_MLLP_*), "
        "the FHIR client (WARDLINE_FHIR_*) and the database (WARDLINE_DATABASE_URL, migrated at "
        "start unless WARDLINE_DB_AUTO_UPGRADE=false). It logs the addresses it listens on.",
    )
    serve.set_defaults(handler=cmd_serve)

    db = sub.add_parser(
        "db",
        help="database schema",
        description="The database schema: migrated as its owner (WARDLINE_DATABASE_OWNER_URL, "
        "default WARDLINE_DATABASE_URL), used by the service as WARDLINE_DATABASE_URL.",
    )
    db_sub = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    db_sub.add_parser(
        "upgrade",
        help="migrate the database to the newest schema, then grant the service's role",
        description="Create or migrate the schema as its owner (WARDLINE_DATABASE_OWNER_URL, "
        "default WARDLINE_DATABASE_URL; default database: SQLite wardline.db in "
        "WARDLINE_DATA_DIR); when the service's URL names another role, grant it the service's "
        "rights (INSERT and SELECT only on the audit).",
    ).set_defaults(handler=cmd_db_upgrade)
    grant = db_sub.add_parser(
        "grant",
        help="grant the service's role its rights, as the owner",
        description="Connected as the owner (WARDLINE_DATABASE_OWNER_URL), give the service's "
        "role (ROLE, default the user of WARDLINE_DATABASE_URL) the rights it needs: rows of "
        "every table, but only INSERT and SELECT on the audit, no trigger, no ownership.",
    )
    grant.add_argument("role", nargs="?", help="the service's role (default: from its URL)")
    grant.set_defaults(handler=cmd_db_grant)

    inv = sub.add_parser("inventory", help="sites, wards, rooms, beds, terminals and DIDs")
    inv_sub = inv.add_subparsers(dest="inventory_command", metavar="ACTION", required=True)
    load = inv_sub.add_parser(
        "load",
        help="load an inventory YAML file (idempotent)",
        description="Load sites, wards, rooms, beds, terminals, phones and DIDs from a YAML "
        "file (docs/inventory.md) into the database (WARDLINE_DATABASE_URL). Every problem of "
        "the file is reported before anything is written.",
    )
    load.add_argument("file", type=Path, help="the inventory file (YAML)")
    load.set_defaults(handler=cmd_inventory_load)

    audit = sub.add_parser("audit", help="the keyed, chained audit log")
    audit_sub = audit.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    audit_sub.add_parser(
        "verify",
        help="verify the chain and its checkpoints; report the first broken link",
        description="Check the keyed chain of the audit log in the database "
        "(WARDLINE_DATABASE_URL) under WARDLINE_AUDIT_KEY, and against the signed checkpoints "
        "of WARDLINE_AUDIT_CHECKPOINT_FILE; exit 1 and name the first broken link when it is "
        "not intact.",
    ).set_defaults(handler=cmd_audit_verify)
    audit_sub.add_parser(
        "checkpoint",
        help="append a signed checkpoint of the chain's head to the checkpoint file",
        description="Sign the audit chain's head (position and hash) with WARDLINE_AUDIT_KEY and "
        "append it to WARDLINE_AUDIT_CHECKPOINT_FILE (the service does it every minute).",
    ).set_defaults(handler=cmd_audit_checkpoint)

    user = sub.add_parser("user", help="staff accounts")
    user_sub = user.add_subparsers(dest="user_command", metavar="ACTION", required=True)
    add = user_sub.add_parser(
        "add",
        help="add a staff account (nurse, switchboard, admin)",
        description="Add a staff account to the database (WARDLINE_DATABASE_URL). The "
        "password is asked on the terminal, or read from standard input with --password-stdin.",
    )
    add.add_argument("username", help="the sign-in name")
    add.add_argument("--name", required=True, help="display name")
    add.add_argument(
        "--role",
        action="append",
        required=True,
        choices=["nurse", "clinician", "switchboard", "admin"],
        help="a role of the account (repeat for several)",
    )
    add.add_argument("--ward", help="the nurse's ward code (must exist in the inventory)")
    add.add_argument(
        "--language", default="fr", choices=["fr", "en", "de"], help="language of the pages"
    )
    add.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password (and the PIN, second line) from standard input",
    )
    add.add_argument("--with-pin", action="store_true", help="also ask for a bedside PIN")
    add.add_argument("--badge", help="badge id (stored only as a keyed hash)")
    add.add_argument("--rpps", help="RPPS number of a health professional (11 digits)")
    add.set_defaults(handler=cmd_user_add)

    demo = sub.add_parser(
        "demo",
        help="run the whole hospital on embedded defaults (simulators, SQLite, amqtt)",
        description="Run a synthetic hospital on one machine: SQLite and the log in the data "
        "directory, an in-process MQTT broker, the PBX simulator, the FHIR sandbox, the MLLP "
        "listener and the web pages; prints where to click. Kept between runs. Reads only "
        "WARDLINE_LOG_LEVEL: everything else is embedded.",
    )
    demo.add_argument("--host", default="127.0.0.1", help="web address (default 127.0.0.1)")
    demo.add_argument("--port", type=int, default=8080, help="web port (default 8080)")
    demo.add_argument(
        "--scenario",
        choices=["on", "off"],
        default="on",
        help="drive admissions, calls and nurse calls (default on)",
    )
    demo.add_argument(
        "--data-dir",
        type=Path,
        default=Path("data/demo"),
        help="the demo's database, inventory and log, kept between runs (default data/demo); "
        "a non-empty directory the demo did not create is refused",
    )
    demo.add_argument(
        "--fresh",
        action="store_true",
        help="start over: remove the demo's own files in the data directory first",
    )
    demo.add_argument("--seed", type=int, help="seed of the scenario's choices")
    demo.add_argument(
        "--no-video", action="store_true", help="no video visits even when Janus is installed"
    )
    demo.set_defaults(handler=cmd_demo)

    for register in _edge_registrars():
        register(sub)
    _say_what_each_reads(parser)
    return parser


# The settings each edge command reads, said in its help (the core commands say it in theirs).
SETTINGS_READ = {
    "terminal": "WARDLINE_DATABASE_URL (credential); WARDLINE_MQTT_URL and "
    "WARDLINE_BEDSIDE_* (simulate)",
    "asterisk-config": "WARDLINE_DATABASE_URL (unless --inventory), WARDLINE_ASTERISK_*",
    "mosquitto-config": "WARDLINE_DATABASE_URL (unless --no-inventory), WARDLINE_MQTT_URL, "
    "WARDLINE_BEDSIDE_*",
    "ehr": "WARDLINE_DATABASE_URL, WARDLINE_FHIR_*, WARDLINE_EHR_* (context); "
    "WARDLINE_MLLP_HOST and WARDLINE_MLLP_PORT (demo-adt)",
    "pbx": "WARDLINE_AMI_HOST, WARDLINE_AMI_PORT, WARDLINE_AMI_USERNAME, WARDLINE_AMI_SECRET",
    "line": "WARDLINE_DATABASE_URL, WARDLINE_AMI_*",
    "janus-config": "WARDLINE_JANUS_*, WARDLINE_TURN_*",
}


def _say_what_each_reads(parser: argparse.ArgumentParser) -> None:
    for action in parser._subparsers._group_actions if parser._subparsers else []:
        choices = getattr(action, "choices", None) or {}
        for name, command in choices.items():
            reads = SETTINGS_READ.get(name)
            if reads is None:
                continue
            for each in [command, *_children(command)]:
                if not each.epilog:
                    each.epilog = f"Settings read: {reads}."


def _children(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    found: list[argparse.ArgumentParser] = []
    for action in parser._subparsers._group_actions if parser._subparsers else []:
        for child in (getattr(action, "choices", None) or {}).values():
            found.extend([child, *_children(child)])
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    arguments = list(sys.argv[1:] if argv is None else argv)
    if not arguments:
        parser.print_help()
        return 0
    args = parser.parse_args(arguments)
    try:
        settings = load_settings()
        configure_logging(settings.log_level, settings.log_format)
        handler: Handler = args.handler
        result = handler(args, settings)
        if inspect.isawaitable(result):
            result = asyncio.run(result)  # type: ignore[arg-type]
        return int(result or 0)
    except WardlineError as exc:
        return _fail(exc.message)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        expected = expected_failure(exc)
        if expected is None:
            raise
        return _fail(expected)


def _fail(message: str) -> int:
    print(f"wardline: error: {message}", file=sys.stderr)
    return EXIT_FAILURE


def expected_failure(exc: BaseException) -> str | None:
    """The one line for a failure a person can fix (a database that refuses, a port in
    use), or None for a bug, whose traceback is worth seeing."""
    import errno

    from wardline.db.access import database_failure, is_database_exception

    if is_database_exception(exc):
        return database_failure(exc).message
    if isinstance(exc, OSError) and exc.errno in {errno.EADDRINUSE, errno.EADDRNOTAVAIL}:
        return (
            f"cannot listen: {exc.strerror}; choose another port or address "
            "(WARDLINE_HTTP_PORT, WARDLINE_HTTP_HOST, WARDLINE_MLLP_PORT)"
        )
    return None


# -- handlers ---------------------------------------------------------------------------------
async def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from wardline.demo import DemoOptions, run_demo

    options = DemoOptions(
        host=args.host,
        port=args.port,
        scenario=args.scenario == "on",
        data_dir=args.data_dir,
        seed=args.seed,
        fresh=args.fresh,
        video=not args.no_video,
    )
    return await run_demo(options, log_level=settings.log_level, log_format=settings.log_format)


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import re

    import structlog
    from aiohttp import web

    from wardline.app import build_app

    log = structlog.get_logger("wardline.serve")

    def listening(text: str) -> None:
        for url in re.findall(r"https?://\S+", text):
            log.info("web.listening", url=url)

    app = build_app(settings)
    web.run_app(app, host=settings.http_host, port=settings.http_port, print=listening)
    log.info("service.stopped")
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
    from wardline.db.access import open_migrated

    return await open_migrated(settings.effective_database_url)


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
    if not sys.stdin.isatty():
        raise WardlineError(
            "cli.no_terminal",
            f"no terminal to ask the {prompt.lower()}: give it with --password-stdin",
        )
    try:
        return getpass.getpass(f"{prompt}: ")
    except EOFError as exc:
        raise WardlineError("cli.stdin", f"no {prompt.lower()} given") from exc


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
            rpps=args.rpps,
        )
    finally:
        await db.dispose()
    print(f"user {user.username} added with roles {', '.join(sorted(user.roles))}")
    return 0
