"""hand-off tickets with their messages, and satisfaction ratings

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 09:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

ACTIVE = sa.text("status IN ('open', 'claimed')")


def upgrade() -> None:
    op.create_table(
        "handoff_tickets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.String(length=128), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("agent", sa.String(length=64), nullable=True),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("intents", sa.JSON(), nullable=False),
        sa.Column("entities", sa.JSON(), nullable=False),
        sa.Column("sentiment", sa.Float(), nullable=True),
        sa.Column("transcript", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("claimed_at", sa.DateTime(), nullable=True),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint(
            "reason IN ('requested', 'fallbacks', 'complaint', 'frustration')",
            name=op.f("ck_handoff_tickets_reason_allowed"),
        ),
        sa.CheckConstraint(
            "status IN ('open', 'claimed', 'closed', 'abandoned')",
            name=op.f("ck_handoff_tickets_status_allowed"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_handoff_tickets_customer_id_customers"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handoff_tickets")),
    )
    with op.batch_alter_table("handoff_tickets", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_handoff_tickets_conversation_id"), ["conversation_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_handoff_tickets_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_handoff_tickets_status"), ["status"], unique=False)
        batch_op.create_index(
            "ix_handoff_tickets_status_created", ["status", "created_at"], unique=False
        )
        # one open or claimed ticket per conversation
        batch_op.create_index(
            "uq_handoff_tickets_active_conversation",
            ["conversation_id"],
            unique=True,
            postgresql_where=ACTIVE,
            sqlite_where=ACTIVE,
        )

    op.create_table(
        "ticket_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("author", sa.String(length=16), nullable=False),
        sa.Column("agent", sa.String(length=64), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "author IN ('agent', 'customer')", name=op.f("ck_ticket_messages_author_allowed")
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["handoff_tickets.id"],
            name=op.f("fk_ticket_messages_ticket_id_handoff_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_messages")),
    )
    with op.batch_alter_table("ticket_messages", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ticket_messages_ticket_id"), ["ticket_id"], unique=False
        )

    op.create_table(
        "csat_ratings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.String(length=128), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("rating", sa.SmallInteger(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("intents", sa.JSON(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("human_involved", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "rating >= 1 AND rating <= 5", name=op.f("ck_csat_ratings_rating_range")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_csat_ratings_customer_id_customers"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_csat_ratings")),
    )
    with op.batch_alter_table("csat_ratings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_csat_ratings_conversation_id"), ["conversation_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_csat_ratings_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_csat_ratings_customer_id"), ["customer_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("csat_ratings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_csat_ratings_customer_id"))
        batch_op.drop_index(batch_op.f("ix_csat_ratings_created_at"))
        batch_op.drop_index(batch_op.f("ix_csat_ratings_conversation_id"))
    op.drop_table("csat_ratings")

    with op.batch_alter_table("ticket_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ticket_messages_ticket_id"))
    op.drop_table("ticket_messages")

    with op.batch_alter_table("handoff_tickets", schema=None) as batch_op:
        batch_op.drop_index("uq_handoff_tickets_active_conversation")
        batch_op.drop_index("ix_handoff_tickets_status_created")
        batch_op.drop_index(batch_op.f("ix_handoff_tickets_status"))
        batch_op.drop_index(batch_op.f("ix_handoff_tickets_customer_id"))
        batch_op.drop_index(batch_op.f("ix_handoff_tickets_conversation_id"))
    op.drop_table("handoff_tickets")
