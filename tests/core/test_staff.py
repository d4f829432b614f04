"""Staff accounts: argon2 secrets, roles, no lockout, badge and PIN, role changes."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.conftest import EXAMPLE_HOSPITAL, FakeClock
from wardline.db.engine import Database
from wardline.db.models import AuditEvent, StaffUser
from wardline.domain.audit import AuditLog
from wardline.domain.commands import SYSTEM_ADMIN_CLI
from wardline.domain.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from wardline.domain.inventory import load_inventory
from wardline.domain.staff import StaffDirectory


async def directory(db: Database, clock: FakeClock) -> StaffDirectory:
    audit = AuditLog(clock=clock)
    await load_inventory(db, EXAMPLE_HOSPITAL, SYSTEM_ADMIN_CLI, audit)  # its ward CARDIO
    staff = StaffDirectory(db, audit, clock=clock)
    await staff.add_user(
        SYSTEM_ADMIN_CLI,
        username="inf.lambert",
        display_name="Inès Lambert",
        roles={"nurse"},
        password="correct horse",
        pin="4321",
        badge="BADGE-0042",
        ward_code="CARDIO",
    )
    return staff


async def test_secrets_are_hashed_and_sign_in_works(db: Database, clock: FakeClock) -> None:
    staff = await directory(db, clock)
    async with db.sessions() as s:
        row = (await s.scalars(select(StaffUser))).one()
    assert row.password_hash.startswith("$argon2") and "correct horse" not in row.password_hash
    assert row.badge_hash is not None and "BADGE" not in row.badge_hash
    user = await staff.authenticate("inf.lambert", "correct horse")
    assert user.roles == {"nurse"}
    nurse = await staff.authenticate_badge("BADGE-0042", "4321")
    assert nurse.username == "inf.lambert"


async def test_failures_never_lock_and_unknown_accounts_answer_alike(
    db: Database, clock: FakeClock
) -> None:
    staff = await directory(db, clock)
    answers = set()
    for username in ("inf.lambert", "nobody.here") * 6:
        with pytest.raises(PermissionDenied) as err:
            await staff.authenticate(username, "wrong")
        answers.add((err.value.error_id, err.value.message, tuple(err.value.details)))
    assert answers == {("auth.failed", "unknown user or wrong secret", ())}
    assert (await staff.authenticate("inf.lambert", "correct horse")).username == "inf.lambert"


async def test_role_change_and_disabling_are_audited(db: Database, clock: FakeClock) -> None:
    staff = await directory(db, clock)
    changed = await staff.update(SYSTEM_ADMIN_CLI, "inf.lambert", roles={"switchboard"})
    assert changed.roles == {"switchboard"}
    off = await staff.update(SYSTEM_ADMIN_CLI, "inf.lambert", active=False)
    assert off.active is False
    with pytest.raises(PermissionDenied) as err:
        await staff.authenticate("inf.lambert", "correct horse")
    assert err.value.error_id == "auth.failed"
    with pytest.raises(InvalidInput):
        await staff.update(SYSTEM_ADMIN_CLI, "inf.lambert", roles={"janitor"})
    with pytest.raises(NotFound):
        await staff.update(SYSTEM_ADMIN_CLI, "nobody", active=False)
    async with db.sessions() as s:
        details = list(
            await s.scalars(select(AuditEvent.details).where(AuditEvent.action == "staff.update"))
        )
    assert details == [{"roles": ["switchboard"]}, {"active": False}]


async def test_badge_with_wrong_pin_and_unknown_badge(db: Database, clock: FakeClock) -> None:
    staff = await directory(db, clock)
    with pytest.raises(PermissionDenied):
        await staff.authenticate_badge("BADGE-0042", "0000")
    with pytest.raises(PermissionDenied) as err:
        await staff.authenticate_badge("BADGE-9999", "4321")
    assert err.value.error_id == "auth.failed"


async def test_bad_accounts_refused(db: Database, clock: FakeClock) -> None:
    staff = await directory(db, clock)
    with pytest.raises(Conflict):
        await staff.add_user(
            SYSTEM_ADMIN_CLI,
            username="inf.lambert",
            display_name="x",
            roles={"nurse"},
            password="another password",
        )
    with pytest.raises(Conflict):
        await staff.add_user(
            SYSTEM_ADMIN_CLI,
            username="other",
            display_name="x",
            roles={"nurse"},
            password="another password",
            badge="BADGE-0042",
        )
    for kwargs in ({"roles": {"surgeon"}}, {"password": "short"}, {"pin": "12"}):
        args = {"roles": {"nurse"}, "password": "long enough", **kwargs}
        with pytest.raises(InvalidInput):
            await staff.add_user(
                SYSTEM_ADMIN_CLI,
                username="u2",
                display_name="x",
                **args,  # type: ignore[arg-type]
            )
    assert [u.username for u in await staff.list_users()] == ["inf.lambert"]


async def test_rpps_is_optional_checked_and_held_by_one_account(
    db: Database, clock: FakeClock
) -> None:
    staff = await directory(db, clock)
    assert (await staff.get("inf.lambert")).rpps is None
    added = await staff.add_user(
        SYSTEM_ADMIN_CLI,
        username="inf.roux",
        display_name="Jeanne Roux",
        roles={"nurse"},
        password="long enough",
        rpps=" 100 0000 0001 ",  # typed with spaces: kept as its 11 digits
    )
    assert added.rpps == "10000000001"
    assert (await staff.get("inf.roux")).rpps == "10000000001"
    with pytest.raises(Conflict) as taken:
        await staff.add_user(
            SYSTEM_ADMIN_CLI,
            username="inf.other",
            display_name="x",
            roles={"nurse"},
            password="long enough",
            rpps="10000000001",
        )
    assert taken.value.error_id == "staff.rpps_taken"
    for bad in ("1234", "1000000000A", "100000000012"):
        with pytest.raises(InvalidInput):
            await staff.add_user(
                SYSTEM_ADMIN_CLI,
                username="inf.bad",
                display_name="x",
                roles={"nurse"},
                password="long enough",
                rpps=bad,
            )
    assert sorted(u.username for u in await staff.list_users()) == ["inf.lambert", "inf.roux"]
