"""account requests: newsletter opt-in and erasure of the customer's personal data

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 09:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


# Never recreate ``customers`` on SQLite: dropping the old table with foreign keys on fails for
# its orders and would delete its addresses (ON DELETE CASCADE).  SQLite adds columns with a
# constant default, and (from 3.35) drops columns, in place.


def upgrade() -> None:
    with op.batch_alter_table("customers", schema=None, recreate="never") as batch_op:
        batch_op.add_column(
            sa.Column("newsletter_opt_in", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("erased_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("customers", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("erased_at")
        batch_op.drop_column("newsletter_opt_in")
