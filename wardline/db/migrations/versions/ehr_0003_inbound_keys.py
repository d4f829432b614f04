"""EHR bridge: ADT control ids kept whole (MSH-10 up to 199), patient keys whole, movement time

Revision ID: ehr_0003
Revises: ehr_0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "ehr_0003"
down_revision: str | Sequence[str] | None = "ehr_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("inbound_messages", schema=None) as batch_op:
        batch_op.alter_column(
            "control_id",
            existing_type=sa.String(length=64),
            type_=sa.String(length=199),
            existing_nullable=False,
        )
        batch_op.alter_column(
            "patient_key",
            existing_type=sa.String(length=128),
            type_=sa.String(length=129),
            existing_nullable=True,
        )
        batch_op.add_column(sa.Column("movement_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("inbound_messages", schema=None) as batch_op:
        batch_op.drop_column("movement_at")
        batch_op.alter_column(
            "patient_key",
            existing_type=sa.String(length=129),
            type_=sa.String(length=128),
            existing_nullable=True,
        )
        batch_op.alter_column(
            "control_id",
            existing_type=sa.String(length=199),
            type_=sa.String(length=64),
            existing_nullable=False,
        )
