"""personal data encrypted at rest: the encrypted columns become TEXT on PostgreSQL

Names, phones, e-mails, addresses, delivery addresses, invoice titles, tax ids and e-mails,
typed reasons, hand-off transcripts, summaries, entities and messages, and rating comments are
stored as envelopes (kefu.privacy.fields), longer than the old VARCHAR limits.  SQLite enforces
no length and keeps its declared types.  Existing values stay readable in clear until
``kefu keys rotate`` seals them.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 05:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# table → {column: (type before, nullable)}
COLUMNS = {
    "customers": {
        "name": (sa.String(100), False),
        "phone": (sa.String(30), False),
        "email": (sa.String(200), True),
    },
    "addresses": {
        "recipient": (sa.String(100), False),
        "phone": (sa.String(30), False),
        "detail": (sa.String(300), False),
    },
    "orders": {"shipping_address": (sa.JSON(), False), "cancel_reason": (sa.String(200), True)},
    "returns": {"reason": (sa.String(300), False)},
    "invoices": {
        "title": (sa.String(200), False),
        "tax_id": (sa.String(40), True),
        "email": (sa.String(200), True),
    },
    "handoff_tickets": {"entities": (sa.JSON(), False), "transcript": (sa.JSON(), False)},
}


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    for table, columns in COLUMNS.items():
        for column, (before, nullable) in columns.items():
            op.alter_column(
                table,
                column,
                existing_type=before,
                existing_nullable=nullable,
                type_=sa.Text(),
                postgresql_using=f"{column}::text",
            )


def downgrade() -> None:
    """The columns stay TEXT: they hold envelopes that the old types cannot (``kefu privacy
    export`` or a backup is the way to take the data elsewhere)."""
