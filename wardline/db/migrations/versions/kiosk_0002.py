"""kiosk_ui: the nurse's session at a terminal, held by the server

Revision ID: kiosk_0002
Revises: kiosk_0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "kiosk_0002"
down_revision: str | Sequence[str] | None = "kiosk_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bedside_nurse_sessions",
        sa.Column("terminal_id", sa.String(length=64), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("rpps", sa.String(length=11), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_input_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["terminal_id"],
            ["terminals.id"],
            name=op.f("fk_bedside_nurse_sessions_terminal_id_terminals"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("terminal_id", name=op.f("pk_bedside_nurse_sessions")),
    )


def downgrade() -> None:
    op.drop_table("bedside_nurse_sessions")
