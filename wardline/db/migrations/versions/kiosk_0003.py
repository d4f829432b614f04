"""kiosk_ui: staff and terminal sessions held on the server

Revision ID: kiosk_0003
Revises: kiosk_0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "kiosk_0003"
down_revision: str | Sequence[str] | None = "kiosk_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "web_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("staff_user_id", sa.Integer(), nullable=True),
        sa.Column("roles", sa.String(length=100), nullable=False),
        sa.Column("terminal_id", sa.String(length=64), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["staff_user_id"],
            ["staff_users.id"],
            name=op.f("fk_web_sessions_staff_user_id_staff_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_sessions")),
    )
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_web_sessions_staff_user_id"), ["staff_user_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_web_sessions_terminal_id"), ["terminal_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_web_sessions_last_seen_at"), ["last_seen_at"], unique=False
        )


def downgrade() -> None:
    op.drop_table("web_sessions")
