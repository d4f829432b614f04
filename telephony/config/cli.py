"""``wardline asterisk-config --out DIR [--inventory FILE]``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from telephony.config.files import AsteriskSettings, Passwords, render, write_config
from telephony.config.plan import PbxPlan, plan_from_database, plan_from_file
from wardline.domain.inventory_file import read_inventory
from wardline.errors import StorageError
from wardline.settings import Settings


def register(subparsers: Any) -> None:
    cmd = subparsers.add_parser(
        "asterisk-config",
        help="generate the Asterisk configuration (pjsip, dialplan, queue, AMI) from the inventory",
    )
    cmd.add_argument("--out", type=Path, required=True, help="directory the files are written to")
    cmd.add_argument(
        "--inventory",
        type=Path,
        default=None,
        help="render from this inventory file instead of the database",
    )
    cmd.set_defaults(handler=cmd_asterisk_config)


async def _plan_from_db(settings: Settings) -> PbxPlan:
    from wardline.db.engine import Database, current_revisions

    db = Database(settings.effective_database_url)
    try:
        if not await db.ping():
            raise StorageError("db.unavailable", "the database is unreachable")
        if not await current_revisions(db):
            raise StorageError("db.empty", "the database has no schema: run `wardline db upgrade`")
        return await plan_from_database(db)
    finally:
        await db.dispose()


async def cmd_asterisk_config(args: argparse.Namespace, settings: Settings) -> int:
    """Check everything, then write every file; a refused inventory writes nothing."""
    if args.inventory is not None:
        plan = plan_from_file(read_inventory(args.inventory))
    else:
        plan = await _plan_from_db(settings)
    local = AsteriskSettings()
    seed = local.asterisk_sip_secret_seed
    passwords = Passwords(settings.data_dir, seed.get_secret_value() if seed else None)
    ami_secret = settings.ami_secret.get_secret_value() or None
    files = render(plan, passwords, local, settings.ami_username, ami_secret)
    passwords.save()
    changes = write_config(args.out, files)
    for change in changes:
        print(change.describe())
    print(
        f"{len(plan.beds)} bed phones, {len(plan.staff)} staff phones, "
        f"{len(plan.dids)} DIDs: written to {args.out}"
    )
    if ami_secret is None:
        print("AMI secret generated for manager.conf: set WARDLINE_AMI_SECRET to it")
    return 0
