"""cluster: leases on the duties that must happen once, with their fencing tokens

Importing this revision registers the table's model on ``Base.metadata`` too (as the
telephony revision does), so "migrations match models" holds in any process that ran them.

Revision ID: cluster_0001
Revises: 0004_audit_keyed
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import wardline.cluster.models  # noqa: F401  (see the docstring)

revision: str = "cluster_0001"
down_revision: str | Sequence[str] | None = "0004_audit_keyed"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cluster_leases",
        sa.Column("duty", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=100), nullable=True),
        sa.Column("token", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("duty", name=op.f("pk_cluster_leases")),
    )


def downgrade() -> None:
    op.drop_table("cluster_leases")
