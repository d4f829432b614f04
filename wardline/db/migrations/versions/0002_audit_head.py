"""audit chain head

Revision ID: 0002_audit_head
Revises: 0001_core
Create Date: 2026-11-22 14:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_audit_head"
down_revision: str | Sequence[str] | None = "0001_core"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GENESIS = "0" * 64


def upgrade() -> None:
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
    )
    # The head starts where the chain is: its last row, or the genesis of an empty chain.
    bind = op.get_bind()
    last = bind.execute(
        sa.text("SELECT seq, prev_hash, hash FROM audit_events ORDER BY seq DESC LIMIT 1")
    ).first()
    seq, prev, head = (last[0], last[1], last[2]) if last else (0, GENESIS, GENESIS)
    bind.execute(
        sa.text("INSERT INTO audit_head (id, seq, prev_hash, hash) VALUES (1, :s, :p, :h)"),
        {"s": seq, "p": prev, "h": head},
    )


def downgrade() -> None:
    op.drop_table("audit_head")
