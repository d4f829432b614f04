"""video: video visits and their participants

Revision ID: video_0001
Revises: 0001_core
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "video_0001"
down_revision: str | Sequence[str] | None = "0001_core"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "video_visits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bed_id", sa.Integer(), nullable=False),
        sa.Column("bed_label", sa.String(length=64), nullable=False),
        sa.Column("ward_code", sa.String(length=32), nullable=False),
        sa.Column("stay_id", sa.Integer(), nullable=False),
        sa.Column("terminal_id", sa.String(length=64), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("started_by", sa.String(length=64), nullable=False),
        sa.Column("invited_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("invite_expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_reason", sa.String(length=16), nullable=True),
        sa.Column("room", sa.BigInteger(), nullable=True),
        sa.Column("room_secret", sa.String(length=64), nullable=True),
        sa.Column("room_pin", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["bed_id"], ["beds.id"], name=op.f("fk_video_visits_bed_id_beds")),
        sa.ForeignKeyConstraint(
            ["stay_id"], ["stays.id"], name=op.f("fk_video_visits_stay_id_stays")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_video_visits")),
    )
    op.create_index(op.f("ix_video_visits_bed_id"), "video_visits", ["bed_id"])
    op.create_index(op.f("ix_video_visits_ward_code"), "video_visits", ["ward_code"])
    op.create_index(op.f("ix_video_visits_state"), "video_visits", ["state"])
    op.create_table(
        "video_participants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("visit_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("account", sa.String(length=64), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("link_hash", sa.String(length=64), nullable=True),
        sa.Column("link_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("code_hash", sa.String(length=200), nullable=True),
        sa.Column("code_failures", sa.Integer(), nullable=False),
        sa.Column("janus_token", sa.String(length=64), nullable=True),
        sa.Column("token_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("left_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["visit_id"],
            ["video_visits.id"],
            name=op.f("fk_video_participants_visit_id_video_visits"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_video_participants")),
        sa.UniqueConstraint("link_hash", name=op.f("uq_video_participants_link_hash")),
    )
    op.create_index(op.f("ix_video_participants_visit_id"), "video_participants", ["visit_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_video_participants_visit_id"), table_name="video_participants")
    op.drop_table("video_participants")
    op.drop_index(op.f("ix_video_visits_state"), table_name="video_visits")
    op.drop_index(op.f("ix_video_visits_ward_code"), table_name="video_visits")
    op.drop_index(op.f("ix_video_visits_bed_id"), table_name="video_visits")
    op.drop_table("video_visits")
