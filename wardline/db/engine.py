"""The database handle: one async engine and session factory per process, for PostgreSQL
(asyncpg) or SQLite (aiosqlite), and migrations run with Alembic."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from wardline.errors import StorageError

log = structlog.get_logger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def _sqlite_pragmas(dbapi_connection: Any, _: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def make_engine(url: str) -> AsyncEngine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    # No pre-ping: it costs a round trip on every checkout. A connection found dead raises a
    # disconnect error, which invalidates the whole pool: the next checkout reconnects.
    return create_async_engine(url, pool_size=10, max_overflow=10)


class Database:
    """Engine plus session factory. ``session()`` commits on success, rolls back on error."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        # SQLite allows one writer: serialise our own writers instead of failing on "locked".
        self._write_lock: asyncio.Lock | None = asyncio.Lock() if self.is_sqlite else None

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A unit of work: one transaction, committed when the block ends without error."""
        async with self._writing(), self.sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def autocommit(self) -> AsyncIterator[AsyncConnection]:
        """A connection whose every statement commits on its own: one round trip for a
        single write (no BEGIN nor COMMIT), for writes that stand alone."""
        async with self._writing(), self.engine.connect() as conn:
            yield await conn.execution_options(isolation_level="AUTOCOMMIT")

    @asynccontextmanager
    async def _writing(self) -> AsyncIterator[None]:
        """Around a write: SQLite's single writer taken in turn, and a lost connection
        raised as :class:`StorageError` ``db.unavailable``."""
        try:
            if self._write_lock is not None:
                async with self._write_lock:
                    yield
            else:
                yield
        except DBAPIError as exc:
            if is_unavailable(exc):
                raise StorageError(
                    "db.unavailable", "the database is unreachable", engine=self.dialect
                ) from exc
            raise
        except OSError as exc:
            raise StorageError(
                "db.unavailable", "the database is unreachable", engine=self.dialect
            ) from exc

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    async def ping(self) -> bool:
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    async def dispose(self) -> None:
        await self.engine.dispose()


# SQLSTATE classes of a database that cannot serve now, whatever the data: connection
# exception, transaction rollback (serialization, deadlock), insufficient resources, object
# not in prerequisite state (a database not accepting connections), operator intervention
# (shutting down, starting up), system error, internal error.
_UNAVAILABLE_CLASSES = frozenset({"08", "40", "53", "55", "57", "58", "XX"})


def sqlstate(exc: DBAPIError) -> str | None:
    """The SQLSTATE of a PostgreSQL error (asyncpg), None for other engines."""
    orig = exc.orig
    for candidate in (
        orig,
        getattr(orig, "driver_exception", None),
        getattr(orig, "__cause__", None),
    ):
        code = getattr(candidate, "sqlstate", None)
        if isinstance(code, str) and code:
            return code
    return None


def is_unavailable(exc: DBAPIError) -> bool:
    """Whether a database error says the database cannot serve now (retry later), rather
    than that it refuses this data (a constraint, a value it cannot store)."""
    if exc.connection_invalidated or _is_connection_error(exc.orig):
        return True
    code = sqlstate(exc)
    if code is not None:
        return code[:2] in _UNAVAILABLE_CLASSES
    name = type(exc.orig).__name__
    return name == "OperationalError"  # SQLite: locked, I/O error, cannot open


def _is_connection_error(orig: BaseException | None) -> bool:
    if isinstance(orig, OSError | ConnectionError):
        return True
    text_ = str(orig).lower()
    return any(
        w in text_ for w in ("connection refused", "connection was closed", "unable to open")
    )


def _alembic_config(url: str) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade_sync(url: str, revision: str = "heads") -> None:
    """Run Alembic migrations up to ``revision`` (blocking; call through a thread)."""
    from alembic import command

    command.upgrade(_alembic_config(url), revision)


async def upgrade(url: str, revision: str = "heads") -> None:
    """Migrate the database at ``url``. Raises :class:`StorageError` when unreachable."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    try:
        await asyncio.to_thread(upgrade_sync, url, revision)
    except (OperationalError, OSError) as exc:
        raise StorageError("db.unavailable", f"cannot migrate the database: {exc}") from exc
    log.info("database.schema_current", revision=revision)


async def current_revisions(db: Database) -> set[str]:
    try:
        async with db.engine.connect() as conn:
            rows = await conn.execute(text("SELECT version_num FROM alembic_version"))
            return {r[0] for r in rows}
    except Exception:
        return set()


async def create_database(url: str) -> Database:
    """Migrate ``url`` to the newest schema and open it (tests, demo)."""
    await upgrade(url)
    return Database(url)
