"""The audit log on PostgreSQL with two roles: every tampering of issue 14 tried as the
service's role (refused by the database) and as the owner (detected by ``verify``, thanks to the
keyed chain and the checkpoints kept outside the database)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from tests.conftest import EXAMPLE_HOSPITAL
from tests.services import PG_ADMIN_URL, fresh_postgres_database
from wardline.db.engine import Database, upgrade
from wardline.db.roles import grant_service_role
from wardline.domain.audit import GENESIS, AuditLog, legacy_link_hash, link_hash
from wardline.domain.audit_checkpoints import verify, write_checkpoint
from wardline.domain.commands import SYSTEM_ADMIN_CLI
from wardline.domain.inventory import load_inventory

pytestmark = pytest.mark.postgres
KEY = b"k" * 32


@dataclass
class TwoRoles:
    owner_url: str
    service_url: str
    service: Database
    checkpoints: Path

    def raw(self, url: str) -> str:
        return str(make_url(url).set(drivername="postgresql"))


@pytest.fixture
async def two_roles(tmp_path: Path) -> AsyncIterator[TwoRoles]:
    suffix = uuid.uuid4().hex[:10]
    owner, service = f"wl_owner_{suffix}", f"wl_service_{suffix}"
    admin = await asyncpg.connect(PG_ADMIN_URL)
    await admin.execute(f'CREATE ROLE "{owner}" LOGIN')
    await admin.execute(f'CREATE ROLE "{service}" LOGIN')
    try:
        async with fresh_postgres_database() as url:
            name = make_url(url).database
            await admin.execute(f'ALTER DATABASE "{name}" OWNER TO "{owner}"')
            owner_url = str(make_url(url).set(username=owner))
            service_url = str(make_url(url).set(username=service))
            await upgrade(owner_url)
            await grant_service_role(owner_url, service)
            await upgrade(service_url)  # the service's start-up: a no-op on a current schema
            db = Database(service_url)
            audit = AuditLog(key=KEY)
            await load_inventory(db, EXAMPLE_HOSPITAL, SYSTEM_ADMIN_CLI, audit)
            async with db.session() as s:
                for i in range(5):
                    await audit.record(s, "nina", "bedside.record_view", "bed", f"B{i}", {"i": i})
            lab = TwoRoles(owner_url, service_url, db, tmp_path / "checkpoints.log")
            await write_checkpoint(db, KEY, lab.checkpoints)
            assert (await verify(db, KEY, lab.checkpoints)).ok
            yield lab
            await db.dispose()
    finally:
        await admin.execute(f'DROP ROLE IF EXISTS "{owner}"')
        await admin.execute(f'DROP ROLE IF EXISTS "{service}"')
        await admin.close()


SERVICE_TAMPERING = [
    "UPDATE audit_events SET actor = 'someone' WHERE seq = 2",
    "DELETE FROM audit_events WHERE seq = (SELECT max(seq) FROM audit_events)",
    "TRUNCATE audit_events",
    "ALTER TABLE audit_events DISABLE TRIGGER ALL",
    "DROP TRIGGER audit_events_no_change ON audit_events",
    "CREATE TRIGGER sneaky BEFORE INSERT ON audit_events "
    "FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()",
    "ALTER TABLE audit_events OWNER TO CURRENT_USER",
    "DROP TABLE audit_events",
    "UPDATE audit_head SET seq = 0, prev_hash = repeat('0', 64), hash = repeat('0', 64)",
    "UPDATE audit_head SET keyed_from = 1000",
    "DELETE FROM audit_head",
    "TRUNCATE audit_head",
    "ALTER TABLE audit_head DISABLE TRIGGER ALL",
    "CREATE TABLE audit_events_copy (seq integer)",
]


async def test_the_service_role_cannot_rewrite_the_audit(two_roles: TwoRoles) -> None:
    conn = await asyncpg.connect(two_roles.raw(two_roles.service_url))
    try:
        for statement in SERVICE_TAMPERING:
            with pytest.raises((asyncpg.InsufficientPrivilegeError, asyncpg.RaiseError)) as refused:
                await conn.execute(statement)
            assert refused.value is not None, statement
    finally:
        await conn.close()
    report = await verify(two_roles.service, KEY, two_roles.checkpoints)
    assert report.ok and report.rows > 5


async def _as_owner(lab: TwoRoles, *statements: str) -> None:
    conn = await asyncpg.connect(lab.raw(lab.owner_url))
    try:
        await conn.execute("ALTER TABLE audit_events DISABLE TRIGGER USER")
        await conn.execute("ALTER TABLE audit_head DISABLE TRIGGER USER")
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


async def _recompute(lab: TwoRoles, link: str, key: bytes = b"") -> None:
    """What an owner does after editing a row: chain every row again and move the head."""
    conn = await asyncpg.connect(lab.raw(lab.owner_url))
    try:
        from wardline.domain.audit import body_digest

        prev = GENESIS
        rows = await conn.fetch("SELECT * FROM audit_events ORDER BY seq")
        for row in rows:
            digest = body_digest(
                at=row["at"],
                actor=row["actor"],
                action=row["action"],
                subject_type=row["subject_type"],
                subject_id=row["subject_id"],
                details=__import__("json").loads(row["details"]),
            )
            new = (
                legacy_link_hash(prev, row["seq"], digest)
                if link == "sha256"
                else link_hash(key, prev, row["seq"], digest)
            )
            await conn.execute(
                "UPDATE audit_events SET prev_hash = $1, hash = $2 WHERE seq = $3",
                prev,
                new,
                row["seq"],
            )
            prev_of_last, prev = prev, new
        await conn.execute(
            "UPDATE audit_head SET seq = $1, prev_hash = $2, hash = $3",
            rows[-1]["seq"],
            prev_of_last,
            prev,
        )
    finally:
        await conn.close()


@pytest.mark.parametrize("link", ["sha256", "guessed-key", "stolen-key"])
async def test_an_owner_rewriting_a_row_and_the_chain_is_detected(
    two_roles: TwoRoles, link: str
) -> None:
    await _as_owner(two_roles, "UPDATE audit_events SET actor = 'someone' WHERE seq = 2")
    key = {"sha256": b"", "guessed-key": b"x" * 32, "stolen-key": KEY}[link]
    await _recompute(two_roles, "sha256" if link == "sha256" else "hmac", key)
    report = await verify(two_roles.service, KEY, two_roles.checkpoints)
    assert not report.ok
    if link == "stolen-key":  # even with the key, the checkpoints saw the old chain
        assert "checkpoint" in (report.reason or "")
    else:
        assert (report.broken_at, report.reason) == (1, "content altered")


async def test_an_owner_truncating_and_resetting_the_head_is_detected(
    two_roles: TwoRoles,
) -> None:
    await _as_owner(
        two_roles,
        "TRUNCATE audit_events",
        f"UPDATE audit_head SET seq = 0, prev_hash = '{GENESIS}', hash = '{GENESIS}'",
    )
    report = await verify(two_roles.service, KEY, two_roles.checkpoints)
    assert (report.ok, report.rows) == (False, 0)
    assert "rows missing at the end" in (report.reason or "")
    without = await verify(two_roles.service, KEY, None)
    assert without.ok  # what the checkpoints are for: the database alone looks intact


async def test_an_owner_deleting_tail_rows_and_moving_the_head_back_is_detected(
    two_roles: TwoRoles,
) -> None:
    conn = await asyncpg.connect(two_roles.raw(two_roles.owner_url))
    last = await conn.fetchval("SELECT max(seq) FROM audit_events")
    keep = await conn.fetchrow(
        "SELECT seq, prev_hash, hash FROM audit_events WHERE seq = $1", last - 2
    )
    await conn.close()
    await _as_owner(
        two_roles,
        f"DELETE FROM audit_events WHERE seq > {last - 2}",
        f"UPDATE audit_head SET seq = {keep['seq']}, prev_hash = '{keep['prev_hash']}', "
        f"hash = '{keep['hash']}'",
    )
    report = await verify(two_roles.service, KEY, two_roles.checkpoints)
    assert (report.ok, report.broken_at) == (False, last - 1)
    assert f"a checkpoint saw row {last}" in (report.reason or "")


async def test_a_forged_checkpoint_line_is_reported(two_roles: TwoRoles) -> None:
    text = two_roles.checkpoints.read_text()
    two_roles.checkpoints.write_text(text.replace('"seq": ', '"seq": 1', 1))
    report = await verify(two_roles.service, KEY, two_roles.checkpoints)
    assert not report.ok and "not signed with the key" in (report.reason or "")


async def test_the_commands_with_two_roles(two_roles: TwoRoles, tmp_path: Path) -> None:
    import asyncio
    import base64

    from tests.core.test_cli_and_service import run

    service_env = {
        "WARDLINE_DATABASE_URL": two_roles.service_url,
        "WARDLINE_DATA_DIR": str(tmp_path / "data"),
        "WARDLINE_AUDIT_KEY": base64.urlsafe_b64encode(KEY).decode(),
        "WARDLINE_AUDIT_CHECKPOINT_FILE": str(two_roles.checkpoints),
    }
    owner_env = service_env | {"WARDLINE_DATABASE_OWNER_URL": two_roles.owner_url}
    upgraded = await asyncio.to_thread(run, ["db", "upgrade"], tmp_path, **owner_env)
    assert upgraded.returncode == 0, upgraded.stderr
    assert "has the service's rights" in upgraded.stdout
    for command in (["audit", "checkpoint"], ["audit", "verify"]):
        done = await asyncio.to_thread(run, command, tmp_path, **service_env)
        assert done.returncode == 0, (command, done.stderr)
    assert "audit chain intact" in done.stdout
    await _as_owner(
        two_roles,
        "TRUNCATE audit_events",
        f"UPDATE audit_head SET seq = 0, prev_hash = '{GENESIS}', hash = '{GENESIS}'",
    )
    broken = await asyncio.to_thread(run, ["audit", "verify"], tmp_path, **service_env)
    assert broken.returncode == 1 and "rows missing at the end" in broken.stderr
