"""telephony: call records

Importing this revision registers the table's model on ``Base.metadata`` too, so that
"migrations match models" holds in any process that ran the migrations even before
``wardline/db/schema.py`` imports ``telephony.calls.models`` (the lead adds that import).

Revision ID: telephony_0001
Revises: 0001_core
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import telephony.calls.models  # noqa: F401  (see the docstring)

revision: str = "telephony_0001"
down_revision: str | Sequence[str] | None = "0001_core"
branch_labels: str | Sequence[str] | None = ("telephony",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "call_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.String(length=64), nullable=False),
        sa.Column("caller_number", sa.String(length=64), nullable=False),
        sa.Column("called_extension", sa.String(length=64), nullable=False),
        sa.Column("extensions", sa.String(length=400), nullable=False),
        sa.Column("bed_extension", sa.String(length=16), nullable=True),
        sa.Column("stay_id", sa.Integer(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disposition", sa.String(length=16), nullable=False),
        sa.Column("transferred", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["stay_id"], ["stays.id"], name=op.f("fk_call_records_stay_id_stays")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_records")),
        sa.UniqueConstraint("call_id", name=op.f("uq_call_records_call_id")),
    )
    with op.batch_alter_table("call_records", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_call_records_bed_extension"), ["bed_extension"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("call_records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_call_records_bed_extension"))
    op.drop_table("call_records")
