"""EHR bridge: one administration per dose (order, due time) in the outbox

Revision ID: ehr_0002
Revises: ehr_0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "ehr_0002"
down_revision: str | Sequence[str] | None = "ehr_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ehr_outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("order_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("due_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f("uq_ehr_outbox_order_id"), ["order_id", "due_at"]
        )


def downgrade() -> None:
    with op.batch_alter_table("ehr_outbox", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_ehr_outbox_order_id"), type_="unique")
        batch_op.drop_column("due_at")
        batch_op.drop_column("order_id")
