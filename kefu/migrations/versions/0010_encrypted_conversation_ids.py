"""conversation ids of hand-off tickets, ratings and the console's audit encrypted, found by a
blind index

``handoff_tickets``, ``csat_ratings`` and ``console_audit`` kept the conversation id
("telegram:<chat id>", personal data) in clear, indexed.  It is now an encrypted column
(kefu.privacy.fields, TEXT on PostgreSQL) and ``conversation_ref`` holds its blind index
(kefu.models.OfConversation), which the lookups, the partial unique index of active tickets and
erasure use.  Existing rows are sealed and indexed here, in batches, under the active data key
(configure the key first, as for ``kefu keys rotate``).  The old indexes are dropped before the
values are overwritten; on PostgreSQL old row versions remain in the files until ``VACUUM FULL
handoff_tickets, csat_ratings, console_audit``.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-08 09:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

from kefu.models import CONVERSATION_PURPOSE
from kefu.privacy.cipher import INDEX_HEX_CHARS, PREFIX
from kefu.privacy.fields import EncryptedText, blind_index

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

NULLABLE = {"handoff_tickets": False, "csat_ratings": False, "console_audit": True}  # the id
INDEXED = ("handoff_tickets", "csat_ratings")  # had an index on the id in clear
ACTIVE = sa.text("status IN ('open', 'claimed')")
ACTIVE_INDEX = "uq_handoff_tickets_active_conversation"
BATCH = 500


def _active_index(column: str) -> None:
    op.create_index(
        ACTIVE_INDEX,
        "handoff_tickets",
        [column],
        unique=True,
        postgresql_where=ACTIVE,
        sqlite_where=ACTIVE,
    )


def _conversation_type(table: str, before: sa.types.TypeEngine, after: sa.types.TypeEngine) -> None:
    """PostgreSQL: the id column from ``before`` to ``after`` (SQLite keeps VARCHAR(128))."""
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column(
            table,
            "conversation_id",
            existing_type=before,
            existing_nullable=NULLABLE[table],
            type_=after,
        )


def _rewrite(table: str, seal: bool) -> None:
    """Rewrite the ids, ``BATCH`` rows at a time: sealed and indexed, or back in clear."""
    rows = sa.table(
        table,
        sa.column("id", sa.Integer()),
        sa.column("conversation_id", EncryptedText(128)),  # read: opened when sealed
        sa.column("conversation_ref", sa.String()),
    )
    written = EncryptedText(128) if seal else sa.Text()
    statement = (
        sa.update(rows)
        .where(rows.c.id == sa.bindparam("row_id"))
        .values(
            conversation_id=sa.bindparam("value", type_=written),
            conversation_ref=sa.bindparam("ref"),
        )
    )
    if seal:
        pending = rows.c.conversation_ref.is_(None) & rows.c.conversation_id.isnot(None)
    else:
        pending = sa.type_coerce(rows.c.conversation_id, sa.Text()).like(f"{PREFIX}%")
    query = sa.select(rows.c.id, rows.c.conversation_id).where(pending).order_by(rows.c.id)
    bind = op.get_bind()
    while found := bind.execute(query.limit(BATCH)).all():
        bind.execute(
            statement,
            [
                {
                    "row_id": row_id,
                    "value": value,
                    "ref": blind_index(value, CONVERSATION_PURPOSE) if seal else None,
                }
                for row_id, value in found
            ],
        )


def upgrade() -> None:
    op.drop_index(ACTIVE_INDEX, table_name="handoff_tickets")
    for table in NULLABLE:
        if table in INDEXED:
            op.drop_index(op.f(f"ix_{table}_conversation_id"), table_name=table)
        op.add_column(table, sa.Column("conversation_ref", sa.String(INDEX_HEX_CHARS)))
        _conversation_type(table, sa.String(128), sa.Text())
        _rewrite(table, seal=True)
        op.create_index(op.f(f"ix_{table}_conversation_ref"), table, ["conversation_ref"])
    _active_index("conversation_ref")


def downgrade() -> None:
    """The ids back in clear (the data key must open them)."""
    op.drop_index(ACTIVE_INDEX, table_name="handoff_tickets")
    for table in NULLABLE:
        op.drop_index(op.f(f"ix_{table}_conversation_ref"), table_name=table)
        _rewrite(table, seal=False)
        op.drop_column(table, "conversation_ref")
        _conversation_type(table, sa.Text(), sa.String(128))
        if table in INDEXED:
            op.create_index(op.f(f"ix_{table}_conversation_id"), table, ["conversation_id"])
    _active_index("conversation_id")
