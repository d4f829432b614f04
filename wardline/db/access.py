"""Opening the database from a command, and database failures said in one line.

The command line turns SQLAlchemy's and the drivers' exceptions into a :class:`StorageError`
with a stable id and the driver's own first line, never a traceback; every command opens the
database the same way (:func:`open_migrated`), without creating an empty SQLite file.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.exc import SQLAlchemyError

from wardline.errors import StorageError

if TYPE_CHECKING:
    from wardline.db.engine import Database

NO_SCHEMA = "the database has no schema: run `wardline db upgrade`"


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip().splitlines()
    line = text[0] if text else type(orig).__name__
    # asyncpg wraps its message as "<class '...'>: message"
    return line.split(">: ", 1)[-1]


def database_failure(exc: BaseException, url: str | None = None) -> StorageError:
    """The one-line :class:`StorageError` for a database exception."""
    if isinstance(exc, StorageError):
        return exc
    detail = _first_line(exc)
    lowered = detail.lower()
    no_schema = "no such table" in lowered or (
        lowered.startswith("relation ") and "does not exist" in lowered
    )
    if no_schema:
        return StorageError("db.empty", NO_SCHEMA, detail=detail)
    where = _where(url)
    return StorageError(
        "db.unavailable", f"cannot use the database{where}: {detail}", detail=detail
    )


def _where(url: str | None) -> str:
    if not url:
        return ""
    if url.startswith("sqlite"):
        return f" {url.split('///', 1)[-1]}"
    host = url.split("@", 1)[-1]
    return f" {host}"


def is_database_exception(exc: BaseException) -> bool:
    return isinstance(exc, SQLAlchemyError)


def sqlite_file_missing(url: str) -> Path | None:
    """The file of a SQLite URL when it does not exist yet (a command that reads must not
    create an empty database as a side effect)."""
    if not url.startswith("sqlite"):
        return None
    path = url.split("///", 1)[-1]
    if not path or path == ":memory:":
        return None
    file = Path(path)
    return None if file.exists() else file


async def open_migrated(url: str) -> Database:
    """The database at ``url``, refused in one line when unreachable or without a schema."""
    from wardline.db.engine import Database, current_revisions

    if sqlite_file_missing(url) is not None:
        raise StorageError("db.empty", NO_SCHEMA)
    db = Database(url)
    try:
        async with db.engine.connect() as conn:
            await conn.exec_driver_sql("SELECT 1")
    except Exception as exc:
        await db.dispose()
        raise database_failure(exc, url) from exc
    if not await current_revisions(db):
        await db.dispose()
        raise StorageError("db.empty", NO_SCHEMA)
    return db
