"""search indexes: a covering index for product listings

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 02:30:26.246872
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("product_variants", schema=None) as batch_op:
        batch_op.drop_index("ix_product_variants_product_id")
        batch_op.create_index(
            "ix_product_variants_filters",
            ["product_id", "color_zh", "size", "storage", "stock"],
            unique=False,
        )
    with op.batch_alter_table("product_variants", schema=None) as batch_op:
        batch_op.create_index("ix_product_variants_color", ["color_zh", "product_id"], unique=False)
        batch_op.create_index("ix_product_variants_size", ["size", "product_id"], unique=False)
        batch_op.create_index(
            "ix_product_variants_storage", ["storage", "product_id"], unique=False
        )

    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.create_index(
            "ix_products_listing",
            [
                "category_id",
                "brand_id",
                "is_active",
                "price",
                "stock_total",
                "release_date",
                "sales_count",
                "rating",
            ],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("product_variants", schema=None) as batch_op:
        batch_op.drop_index("ix_product_variants_filters")
        batch_op.create_index("ix_product_variants_product_id", ["product_id"], unique=False)
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.drop_index("ix_products_listing")

    with op.batch_alter_table("product_variants", schema=None) as batch_op:
        batch_op.drop_index("ix_product_variants_storage")
        batch_op.drop_index("ix_product_variants_size")
        batch_op.drop_index("ix_product_variants_color")
