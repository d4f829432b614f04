"""audit chain keyed: where the keyed chain starts; the head only moves forward

Revision ID: 0004_audit_keyed
Revises: 0003_staff_rpps
Create Date: 2026-12-03 11:20:00

The rows already written keep their plain SHA-256 link; the rows from ``keyed_from`` on are
chained with HMAC-SHA256 under the key of the settings (never in the database). The head may
only move forward and never be deleted, and neither table may be truncated: the service's role
cannot get round these triggers (only the owner can disable them, and the external
checkpoints catch what the owner does).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_audit_keyed"
down_revision: str | Sequence[str] | None = "0003_staff_rpps"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PG = [
    """
CREATE OR REPLACE FUNCTION audit_head_forward_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.id = OLD.id AND NEW.seq > OLD.seq
       AND NEW.keyed_from = OLD.keyed_from THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'the audit chain head only moves forward';
END;
$$ LANGUAGE plpgsql
""",
    "CREATE TRIGGER audit_head_forward BEFORE UPDATE OR DELETE ON audit_head "
    "FOR EACH ROW EXECUTE FUNCTION audit_head_forward_only()",
    "CREATE TRIGGER audit_head_no_truncate BEFORE TRUNCATE ON audit_head "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_head_forward_only()",
    "CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()",
]
_SQLITE = [
    "CREATE TRIGGER audit_head_forward BEFORE UPDATE ON audit_head "
    "WHEN NEW.seq <= OLD.seq OR NEW.keyed_from != OLD.keyed_from OR NEW.id != OLD.id "
    "BEGIN SELECT RAISE(ABORT, 'the audit chain head only moves forward'); END",
    "CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head "
    "BEGIN SELECT RAISE(ABORT, 'the audit chain head only moves forward'); END",
]


def upgrade() -> None:
    with op.batch_alter_table("audit_head", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("keyed_from", sa.Integer(), nullable=False, server_default="1")
        )
    # the keyed chain starts after the rows written so far
    op.execute("UPDATE audit_head SET keyed_from = seq + 1")
    with op.batch_alter_table("audit_head", schema=None) as batch_op:
        batch_op.alter_column("keyed_from", server_default=None)
    for statement in _PG if op.get_bind().dialect.name == "postgresql" else _SQLITE:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_events_no_truncate ON audit_events")
        op.execute("DROP TRIGGER audit_head_no_truncate ON audit_head")
        op.execute("DROP TRIGGER audit_head_forward ON audit_head")
        op.execute("DROP FUNCTION audit_head_forward_only()")
    else:
        op.execute("DROP TRIGGER audit_head_no_delete")
        op.execute("DROP TRIGGER audit_head_forward")
    with op.batch_alter_table("audit_head", schema=None) as batch_op:
        batch_op.drop_column("keyed_from")
