"""Stays: the time the patient came to their current bed (admission or transfer, UTC)

Revision ID: ehr_0004
Revises: ehr_0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "ehr_0004"
down_revision: str | Sequence[str] | None = "ehr_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("stays", schema=None) as batch_op:
        batch_op.add_column(sa.Column("bed_since", sa.DateTime(timezone=True), nullable=True))
    # stays admitted before: on their bed since their admission, unless they moved
    op.execute("UPDATE stays SET bed_since = started_at WHERE previous_bed_id IS NULL")


def downgrade() -> None:
    with op.batch_alter_table("stays", schema=None) as batch_op:
        batch_op.drop_column("bed_since")
