"""bedside: nurse calls

Revision ID: bedside_0001
Revises: 0001_core
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "bedside_0001"
down_revision: str | Sequence[str] | None = "0001_core"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "nurse_calls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("press_key", sa.String(length=140), nullable=False),
        sa.Column("bed_label", sa.String(length=64), nullable=False),
        sa.Column("ward_code", sa.String(length=32), nullable=False),
        sa.Column("terminal_id", sa.String(length=64), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=64), nullable=True),
        sa.Column("cleared_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cleared_by", sa.String(length=64), nullable=True),
        sa.Column("escalations", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_nurse_calls")),
        sa.UniqueConstraint("press_key", name=op.f("uq_nurse_calls_press_key")),
    )
    with op.batch_alter_table("nurse_calls", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_nurse_calls_bed_label"), ["bed_label"], unique=False)
        batch_op.create_index("ix_nurse_calls_ward_state", ["ward_code", "state"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("nurse_calls", schema=None) as batch_op:
        batch_op.drop_index("ix_nurse_calls_ward_state")
        batch_op.drop_index(batch_op.f("ix_nurse_calls_bed_label"))
    op.drop_table("nurse_calls")
