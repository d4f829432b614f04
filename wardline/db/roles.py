"""Two database roles on PostgreSQL: the owner migrates the schema, the service runs with
only the rights it needs. The service's role may INSERT and SELECT the audit rows and move
the chain head forward (a trigger refuses anything else on it), never UPDATE, DELETE or
TRUNCATE them, never create a trigger nor own a table; elsewhere it reads and writes rows.
``wardline db upgrade`` grants them after migrating; ``wardline db grant`` on its own."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import make_url

from wardline.db.engine import make_engine
from wardline.errors import ConfigError

AUDIT_RIGHTS = {
    "audit_events": "SELECT, INSERT",
    "audit_head": "SELECT, UPDATE",
    "alembic_version": "SELECT",
}


def role_of(url: str) -> str | None:
    return make_url(url).username


def grant_statements(role: str, quote: str) -> list[str]:
    """The statements giving ``role`` (already quoted as ``quote``) its rights, in order."""
    statements = [
        f"GRANT USAGE ON SCHEMA public TO {quote}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {quote}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {quote}",
    ]
    for table, rights in AUDIT_RIGHTS.items():
        statements.append(f"REVOKE ALL ON {table} FROM {quote}")
        statements.append(f"GRANT {rights} ON {table} TO {quote}")
    return statements


async def grant_service_role(owner_url: str, service_role: str) -> list[str]:
    """Give the service's role its rights, connected as the owner; returns what was run."""
    if owner_url.startswith("sqlite"):
        return []
    if service_role == role_of(owner_url):
        raise ConfigError(
            "db.same_role",
            "the service's role is the owner: give WARDLINE_DATABASE_URL a role of its own",
        )
    engine = make_engine(owner_url)
    try:
        async with engine.begin() as conn:
            quote = conn.dialect.identifier_preparer.quote(service_role)
            statements = grant_statements(service_role, quote)
            for statement in statements:
                await conn.execute(text(statement))
    finally:
        await engine.dispose()
    return statements
