"""EHR bridge: outbox of bedside writes

Revision ID: ehr_0001
Revises: 0001_core
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# Registers ehr_outbox on the shared metadata for tools comparing models and migrations,
# until wardline/db/schema.py imports ehr_bridge.models itself. The DDL below stays frozen.
import ehr_bridge.models  # noqa: F401

revision: str = "ehr_0001"
down_revision: str | Sequence[str] | None = "0001_core"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ehr_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("business_id", sa.String(length=128), nullable=False),
        sa.Column("resource_type", sa.String(length=64), nullable=False),
        sa.Column("resource", sa.JSON(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("visit_number", sa.String(length=64), nullable=False),
        sa.Column("patient_ipp", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("server_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ehr_outbox")),
        sa.UniqueConstraint("business_id", name=op.f("uq_ehr_outbox_business_id")),
    )
    with op.batch_alter_table("ehr_outbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ehr_outbox_visit_number"), ["visit_number"])
        batch_op.create_index(batch_op.f("ix_ehr_outbox_state"), ["state"])
        batch_op.create_index(batch_op.f("ix_ehr_outbox_next_attempt_at"), ["next_attempt_at"])


def downgrade() -> None:
    op.drop_table("ehr_outbox")
