"""agent console security: login failures, revoked sessions, audit log; hand-off ticket openings

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 02:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

UTC_TIME = sa.DateTime(timezone=True)  # kefu.models.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "console_login_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agent", sa.String(length=64), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("at", UTC_TIME, nullable=False),
        sa.Column("expires_at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_login_failures")),
    )
    op.create_index(
        "ix_console_login_failures_address_at", "console_login_failures", ["address", "at"]
    )
    op.create_index("ix_console_login_failures_agent_at", "console_login_failures", ["agent", "at"])
    op.create_index(
        op.f("ix_console_login_failures_expires_at"), "console_login_failures", ["expires_at"]
    )

    op.create_table(
        "console_revoked_sessions",
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("agent", sa.String(length=64), nullable=False),
        sa.Column("revoked_at", UTC_TIME, nullable=False),
        sa.Column("expires_at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("nonce", name=op.f("pk_console_revoked_sessions")),
    )
    op.create_index(
        op.f("ix_console_revoked_sessions_expires_at"), "console_revoked_sessions", ["expires_at"]
    )

    op.create_table(
        "console_audit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", UTC_TIME, nullable=False),
        sa.Column("agent", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("conversation_id", sa.String(length=128), nullable=True),
        sa.Column("address", sa.String(length=64), nullable=True),
        sa.CheckConstraint(
            "action IN ('login', 'logout', 'read', 'denied', 'claim', 'reply', 'close')",
            name=op.f("ck_console_audit_action_allowed"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_audit")),
    )
    op.create_index(op.f("ix_console_audit_at"), "console_audit", ["at"])
    op.create_index(op.f("ix_console_audit_agent"), "console_audit", ["agent"])
    op.create_index(op.f("ix_console_audit_ticket_id"), "console_audit", ["ticket_id"])

    op.create_table(
        "handoff_ticket_openings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("client", sa.String(length=64), nullable=False),
        sa.Column("at", UTC_TIME, nullable=False),
        sa.Column("expires_at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handoff_ticket_openings")),
    )
    op.create_index(
        "ix_handoff_ticket_openings_client_at", "handoff_ticket_openings", ["client", "at"]
    )
    op.create_index(
        "ix_handoff_ticket_openings_channel_at", "handoff_ticket_openings", ["channel", "at"]
    )
    op.create_index(op.f("ix_handoff_ticket_openings_at"), "handoff_ticket_openings", ["at"])
    op.create_index(
        op.f("ix_handoff_ticket_openings_expires_at"), "handoff_ticket_openings", ["expires_at"]
    )


def downgrade() -> None:
    op.drop_table("handoff_ticket_openings")  # its indexes go with it
    op.drop_table("console_audit")
    op.drop_table("console_revoked_sessions")
    op.drop_table("console_login_failures")
