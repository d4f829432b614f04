"""kiosk_ui: meal orders, survey answers

Revision ID: kiosk_0001
Revises: 0001_core
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "kiosk_0001"
down_revision: str | Sequence[str] | None = "0001_core"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "meal_orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("stay_id", sa.Integer(), nullable=False),
        sa.Column("ward_code", sa.String(length=32), nullable=False),
        sa.Column("bed_label", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("meal", sa.String(length=16), nullable=False),
        sa.Column("dish_code", sa.String(length=32), nullable=False),
        sa.Column("ordered_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["stay_id"], ["stays.id"], name=op.f("fk_meal_orders_stay_id_stays")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meal_orders")),
        sa.UniqueConstraint("stay_id", "day", "meal", name=op.f("uq_meal_orders_stay_id")),
    )
    with op.batch_alter_table("meal_orders", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_meal_orders_ward_code"), ["ward_code"], unique=False)
    op.create_table(
        "survey_answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ward_code", sa.String(length=32), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_answers")),
    )


def downgrade() -> None:
    op.drop_table("survey_answers")
    with op.batch_alter_table("meal_orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_meal_orders_ward_code"))
    op.drop_table("meal_orders")
