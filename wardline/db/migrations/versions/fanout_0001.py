"""fanout: events stored for a notification too long, and the switchboard's call claims

Revision ID: fanout_0001
Revises: 0001_core
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "fanout_0001"
down_revision: str | Sequence[str] | None = "0001_core"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "fanout_stored_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fanout_stored_notices")),
    )
    with op.batch_alter_table("fanout_stored_notices", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_fanout_stored_notices_stored_at"), ["stored_at"], unique=False
        )
    op.create_table(
        "call_claims",
        sa.Column("call_id", sa.String(length=64), nullable=False),
        sa.Column("operator", sa.String(length=100), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("call_id", name=op.f("pk_call_claims")),
    )


def downgrade() -> None:
    op.drop_table("call_claims")
    with op.batch_alter_table("fanout_stored_notices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_fanout_stored_notices_stored_at"))
    op.drop_table("fanout_stored_notices")
