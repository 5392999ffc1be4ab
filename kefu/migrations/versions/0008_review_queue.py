"""review-and-retrain loop: the review queue and how far collection has read

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 04:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

UTC_TIME = sa.DateTime(timezone=True)  # kefu.models.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "review_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("predicted_intent", sa.String(length=64), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("predicted_entities", sa.JSON(), nullable=False),
        sa.Column("sentiment", sa.Float(), nullable=True),
        sa.Column("seen", sa.Integer(), nullable=False),
        sa.Column("first_seen_at", UTC_TIME, nullable=False),
        sa.Column("last_seen_at", UTC_TIME, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("intent", sa.String(length=64), nullable=True),
        sa.Column("entities", sa.JSON(), nullable=False),
        sa.Column("annotated_by", sa.String(length=64), nullable=True),
        sa.Column("annotated_at", UTC_TIME, nullable=True),
        sa.Column("exported_at", UTC_TIME, nullable=True),
        sa.Column("export_note", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'annotated', 'discarded', 'exported')",
            name=op.f("ck_review_items_status_allowed"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_items")),
        sa.UniqueConstraint("key", name=op.f("uq_review_items_key")),
    )
    op.create_index("ix_review_items_status_last_seen", "review_items", ["status", "last_seen_at"])
    op.create_table(
        "review_cursors",
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("collected_until", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("source", name=op.f("pk_review_cursors")),
    )


def downgrade() -> None:
    op.drop_table("review_cursors")
    op.drop_table("review_items")  # its index goes with it
