"""staff accounts: the RPPS number of a health professional (optional)

Revision ID: 0003_staff_rpps
Revises: 0002_audit_head
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_staff_rpps"
down_revision: str | Sequence[str] | None = "0002_audit_head"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("staff_users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rpps", sa.String(length=11), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_staff_users_rpps"), ["rpps"])


def downgrade() -> None:
    with op.batch_alter_table("staff_users", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_staff_users_rpps"), type_="unique")
        batch_op.drop_column("rpps")
