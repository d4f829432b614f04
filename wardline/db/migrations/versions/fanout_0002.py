"""fanout: one nurse call not cleared per bed, held by the database (several instances)

Revision ID: fanout_0002
Revises: fanout_0001, bedside_0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "fanout_0002"
down_revision: str | Sequence[str] | None = ("fanout_0001", "bedside_0001")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("nurse_calls", schema=None) as batch_op:
        batch_op.create_index(
            "uq_nurse_calls_open_bed",
            ["bed_label"],
            unique=True,
            postgresql_where=sa.text("state <> 'cleared'"),
            sqlite_where=sa.text("state <> 'cleared'"),
        )


def downgrade() -> None:
    with op.batch_alter_table("nurse_calls", schema=None) as batch_op:
        batch_op.drop_index("uq_nurse_calls_open_bed")
