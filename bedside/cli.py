"""Command line of the bedside edge: ``wardline mosquitto-config`` and
``wardline terminal simulate``. Handlers take ``(args, settings)`` and return an exit code;
expected failures are :class:`~wardline.errors.WardlineError` (one line, no traceback)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from bedside.broker_config import (
    CREDENTIALS_FILE,
    DEFAULT_SERVICE_USER,
    ListenerOptions,
    load_or_create_credentials,
    write_broker_config,
)
from bedside.errors import BedsideError
from bedside.mqtt_link import BrokerAddress, parse_mqtt_url
from bedside.options import BedsideOptions
from bedside.topics import Topics
from wardline.settings import Settings


def register_cli(subparsers: Any) -> None:
    conf = subparsers.add_parser(
        "mosquitto-config", help="write mosquitto.conf, password file and ACL of the terminals"
    )
    conf.add_argument("--out", type=Path, required=True, help="directory to write into")
    conf.add_argument(
        "--terminal", action="append", default=[], metavar="ID",
        help="a terminal id, in addition to the inventory's (repeatable)",
    )  # fmt: skip
    conf.add_argument(
        "--no-inventory", action="store_true", help="do not read terminal ids from the database"
    )
    conf.add_argument("--tls-port", type=int, help="also listen with TLS on this port")
    conf.add_argument("--cafile", help="CA certificate (TLS listener)")
    conf.add_argument("--certfile", help="server certificate (TLS listener)")
    conf.add_argument("--keyfile", help="server key (TLS listener)")
    conf.add_argument(
        "--service-account", action="append", default=[], metavar="USER",
        help="an account of one service instance (repeatable; default the user of "
        "WARDLINE_MQTT_URL, else wardline-service); each instance connects with its own",
    )  # fmt: skip
    conf.add_argument(
        "--run-as", default="mosquitto",
        help="user Mosquitto drops to when started as root (owns passwd, acl and data; "
        "default mosquitto)",
    )  # fmt: skip
    conf.add_argument("--no-persistence", action="store_true", help="keep nothing on disk")
    conf.set_defaults(handler=cmd_mosquitto_config)

    terminal = subparsers.add_parser("terminal", help="bedside terminals")
    actions = terminal.add_subparsers(dest="terminal_command", metavar="ACTION", required=True)
    sim = actions.add_parser(
        "simulate", help="run one simulated terminal against the configured broker"
    )
    sim.add_argument("terminal_id", help="the terminal to play, e.g. T-CARDIO-101-A")
    sim.add_argument(
        "--script", default="", help="commands separated by ';' (call, cord, badge ID, wait S)"
    )
    sim.add_argument("--for", dest="duration", type=float, help="stay connected this long (s)")
    sim.add_argument("--password", help="broker password (default: the stored credential)")
    sim.set_defaults(handler=cmd_terminal_simulate)


async def _inventory_terminals(settings: Settings) -> list[str]:
    from sqlalchemy.exc import SQLAlchemyError

    from bedside import beds
    from wardline.db.access import open_migrated
    from wardline.errors import StorageError

    try:
        db = await open_migrated(settings.effective_database_url)
    except StorageError as exc:
        raise StorageError(exc.error_id, f"{exc.message} (or use --no-inventory)") from exc
    try:
        async with db.session() as session:
            return await beds.terminal_ids(session)
    except SQLAlchemyError as exc:
        raise StorageError("db.unavailable", f"cannot read the terminals: {exc}") from exc
    finally:
        await db.dispose()


async def cmd_mosquitto_config(args: argparse.Namespace, settings: Settings) -> int:
    url = parse_mqtt_url(settings.mqtt_url.get_secret_value())
    terminals = list(args.terminal)
    if not args.no_inventory:
        terminals += await _inventory_terminals(settings)
    services = [url.username or DEFAULT_SERVICE_USER, *args.service_account]
    credentials = load_or_create_credentials(
        settings.data_dir,
        dict.fromkeys(terminals),
        service_users=services,
        service_password=url.password,
    )
    options = ListenerOptions(
        host=url.host, port=url.port, tls_port=args.tls_port, cafile=args.cafile,
        certfile=args.certfile, keyfile=args.keyfile, persistence=not args.no_persistence,
        run_as=args.run_as,
    )  # fmt: skip
    try:
        written = write_broker_config(args.out, credentials, options, BedsideOptions().topic_root)
    except OSError as exc:
        raise BedsideError("mqtt.config_write", f"cannot write into {args.out}: {exc}") from exc
    for path in written:
        print(path)
    stored = settings.data_dir / CREDENTIALS_FILE
    accounts = ", ".join(credentials.services)
    print(
        f"{len(credentials.terminals)} terminal accounts and service accounts {accounts}; "
        f"passwords kept in {stored}"
    )
    if url.password is None or len(credentials.services) > 1:
        print(
            "each service instance connects with its own account (its client id): set "
            f"WARDLINE_MQTT_URL=mqtt://ACCOUNT:<its password in {stored}>@{url.host}:{url.port}",
            file=sys.stderr,
        )
    if os.geteuid() != 0:
        print(
            f"Mosquitto started as root drops to {args.run_as!r} before reading passwd and "
            f"acl: as root, `chown {args.run_as}: passwd acl data` in {args.out}",
            file=sys.stderr,
        )
    return 0


async def cmd_terminal_simulate(args: argparse.Namespace, settings: Settings) -> int:
    from bedside.broker_config import read_credentials
    from bedside.terminal_simulator import run_terminal
    from bedside.topics import check_terminal_id

    tid = check_terminal_id(args.terminal_id)
    url = parse_mqtt_url(settings.mqtt_url.get_secret_value())
    password = args.password
    stored = read_credentials(settings.data_dir)
    if password is None and stored is not None:
        password = stored.terminals.get(tid)
    address = BrokerAddress(url.host, url.port, tid if password else None, password, url.tls)
    script = [part for part in args.script.split(";") if part.strip()]
    return await run_terminal(
        address, tid, topics=Topics(BedsideOptions().topic_root), script=script,
        stdin=not script,
        duration=args.duration,
    )  # fmt: skip
