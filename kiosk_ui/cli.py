"""``wardline terminal credential TERMINAL_ID``: issue a bedside TV's credential."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from wardline.settings import Settings


def register_cli(subparsers: Any) -> None:
    sub = _terminal_actions(subparsers)
    credential = sub.add_parser(
        "credential", help="issue a new TV credential for a terminal (prints it once)"
    )
    credential.add_argument("terminal_id", help="terminal id, e.g. T-CARDIO-101-A")
    credential.set_defaults(handler=cmd_credential)


def _terminal_actions(subparsers: Any) -> Any:
    """The actions of ``wardline terminal``: the bedside edge may have made the group already
    (``terminal simulate``); the TV's credential joins it."""
    existing = subparsers.choices.get("terminal")
    if existing is None:
        terminal = subparsers.add_parser("terminal", help="bedside terminals")
        return terminal.add_subparsers(dest="terminal_command", metavar="ACTION", required=True)
    for action in existing._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    raise RuntimeError("the terminal command group has no actions")


async def cmd_credential(args: argparse.Namespace, settings: Settings) -> int:
    from kiosk_ui.terminal_auth import issue_credential
    from wardline.db.access import open_migrated
    from wardline.domain.audit import AuditLog
    from wardline.errors import WardlineError

    db = await open_migrated(settings.effective_database_url)
    try:
        audit = AuditLog(key=settings.audit_key_bytes())
        secret = await issue_credential(db, args.terminal_id, audit=audit)
    except WardlineError as exc:
        print(f"wardline: error: {exc.message}", file=sys.stderr)
        return 2
    finally:
        await db.dispose()
    print(secret)
    return 0
