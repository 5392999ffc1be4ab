"""shared security counters (verification locks), one-time confirmation codes, shop facts

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 01:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "security_counters",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_start", sa.BigInteger(), nullable=False),
        sa.Column("locked_until", sa.BigInteger(), nullable=True),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_security_counters")),
    )
    op.create_index(op.f("ix_security_counters_expires_at"), "security_counters", ["expires_at"])
    op.create_table(
        "confirmation_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_key", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=80), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.Column("used_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_confirmation_codes")),
        sa.UniqueConstraint("request_key", name=op.f("uq_confirmation_codes_request_key")),
    )
    op.create_index(op.f("ix_confirmation_codes_subject"), "confirmation_codes", ["subject"])
    op.create_index(op.f("ix_confirmation_codes_expires_at"), "confirmation_codes", ["expires_at"])
    op.create_table(
        "shop_meta",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_shop_meta")),
    )


def downgrade() -> None:
    op.drop_table("shop_meta")
    op.drop_index(op.f("ix_confirmation_codes_expires_at"), table_name="confirmation_codes")
    op.drop_index(op.f("ix_confirmation_codes_subject"), table_name="confirmation_codes")
    op.drop_table("confirmation_codes")
    op.drop_index(op.f("ix_security_counters_expires_at"), table_name="security_counters")
    op.drop_table("security_counters")
