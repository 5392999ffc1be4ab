"""order requests: the changes customers asked for, once per request key

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 05:03:33.103826
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "order_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_key", sa.String(length=200), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('cancel', 'change_address', 'return', 'refund', 'invoice', 'newsletter', 'erasure')",
            name=op.f("ck_order_requests_kind_allowed"),
        ),
        sa.CheckConstraint(
            "status IN ('done', 'refused')", name=op.f("ck_order_requests_status_allowed")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_order_requests_customer_id_customers"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_order_requests_order_id_orders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_requests")),
        sa.UniqueConstraint("request_key", name=op.f("uq_order_requests_request_key")),
    )
    with op.batch_alter_table("order_requests", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_order_requests_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(
            "ix_order_requests_kind_created", ["kind", "created_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_order_requests_order_id"), ["order_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("order_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_order_requests_order_id"))
        batch_op.drop_index("ix_order_requests_kind_created")
        batch_op.drop_index(batch_op.f("ix_order_requests_customer_id"))

    op.drop_table("order_requests")
