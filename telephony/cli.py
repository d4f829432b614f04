"""``wardline pbx snapshot``, ``wardline pbx simulator``, ``wardline asterisk-config`` and
``wardline line``."""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

from telephony.calls.session import LinkTuning, PbxSession
from telephony.calls.snapshot_json import snapshot_json
from wardline.settings import Settings


def register_cli(subparsers: Any) -> None:
    pbx = subparsers.add_parser("pbx", help="the Asterisk PBX: live snapshot, simulator")
    sub = pbx.add_subparsers(dest="pbx_command", metavar="ACTION", required=True)
    snap = sub.add_parser(
        "snapshot", help="print the live calls, phones, queues and parked calls as JSON"
    )
    snap.add_argument(
        "--seconds",
        type=float,
        default=0.0,
        help="follow events this long before printing (default 0)",
    )
    snap.set_defaults(handler=cmd_snapshot)
    sim = sub.add_parser("simulator", help="run the PBX simulator alone (AMI on a TCP port)")
    sim.add_argument("--host", default="127.0.0.1", help="address AMI listens on")
    sim.add_argument("--port", type=int, default=5038, help="AMI port (default 5038)")
    sim.add_argument(
        "--demo", action="store_true", help="place synthetic calls now and then (the demo)"
    )
    sim.add_argument(
        "--inventory",
        type=Path,
        default=None,
        metavar="FILE",
        help="the hospital's inventory YAML (default: the lab of the captures)",
    )
    sim.add_argument(
        "--admin-user",
        default=None,
        metavar="NAME",
        help="also accept this AMI user (same secret) with the system class, as a PBX "
        "administrator's own account (DBPut, DBDelTree: the benchmarks' baselines)",
    )
    sim.set_defaults(handler=cmd_simulator)
    from telephony.config.cli import register as register_asterisk_config

    register_asterisk_config(subparsers)
    from telephony.lines.cli import register as register_line

    register_line(subparsers)


async def cmd_snapshot(args: argparse.Namespace, settings: Settings) -> int:
    """Connect, resync, follow events ``--seconds``, print one JSON object."""
    session = PbxSession.from_settings(settings, tuning=LinkTuning(backoff_initial=30.0))
    await session.start()
    try:
        await session.link.wait_synced(settings.ami_action_timeout * 2)
        if args.seconds > 0:
            await asyncio.sleep(args.seconds)
        print(json.dumps(snapshot_json(session.state.snapshot()), ensure_ascii=False))
    finally:
        await session.stop()
    return 0


async def cmd_simulator(args: argparse.Namespace, settings: Settings) -> int:
    from telephony.simulator.server import PbxSimulator

    secret = settings.ami_secret.get_secret_value() or "wardline-secret"
    users = {settings.ami_username: secret}
    admin: str | None = getattr(args, "admin_user", None)
    if admin:
        users[admin] = secret
    inventory: Path | None = getattr(args, "inventory", None)
    # a bad file raises InvalidInput: one "wardline: error:" line naming file and line, exit 2
    sim = PbxSimulator.from_inventory(inventory, users) if inventory else PbxSimulator(users)
    if admin:
        sim.write_classes[admin] = frozenset({"system", "call", "originate", "reporting"})
    await sim.start(args.host, args.port)
    beds = len(sim.inventory.beds)
    print(
        f"PBX simulator: AMI on {args.host}:{sim.port}, user {settings.ami_username!r}, "
        f"{beds} beds",
        flush=True,
    )
    try:
        if getattr(args, "demo", False):
            from telephony.simulator.demo import run_demo

            await run_demo(sim)
        else:
            await asyncio.Event().wait()
    finally:
        await sim.stop()
    return 0
