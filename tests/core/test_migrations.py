"""Migrations from empty on both engines; the schema they build matches the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from wardline.db.engine import Database, current_revisions, upgrade
from wardline.db.schema import metadata


async def test_upgrade_from_empty_builds_every_table(db_url: str) -> None:
    await upgrade(db_url)
    await upgrade(db_url)  # a second run is a no-op
    db = Database(db_url)
    try:
        assert await current_revisions(db)
        async with db.engine.connect() as conn:
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
            diff = await conn.run_sync(
                lambda c: compare_metadata(MigrationContext.configure(c), metadata())
            )
        assert set(metadata().tables) <= tables
        assert diff == [], f"models and migrations differ: {diff}"
    finally:
        await db.dispose()


def test_every_migration_file_has_its_own_revision() -> None:
    """Two branches adding the same revision id would leave one migration silently unused."""
    import ast

    from wardline.db.engine import MIGRATIONS_DIR

    seen: dict[str, str] = {}
    for path in sorted((MIGRATIONS_DIR / "versions").glob("*.py")):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", "") == "revision":
                value = ast.literal_eval(node.value) if node.value is not None else None
                assert value not in seen, f"{path.name} and {seen[value]} are both {value}"
                seen[str(value)] = path.name
    assert len(seen) >= 8
