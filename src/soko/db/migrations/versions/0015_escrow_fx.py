"""Escrow orders funded from another currency: the FX quote that funded an order.

Revision ID: 0015
Revises: 0013
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
# 0014 is another branch's at the time of writing: whoever merges second re-chains.
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("escrow_orders", recreate="auto") as batch:
        batch.add_column(sa.Column("fx_quote_id", sa.String(length=40), nullable=True))
        batch.create_foreign_key(
            op.f("fk_escrow_orders_fx_quote_id_fx_quotes"), "fx_quotes", ["fx_quote_id"], ["id"]
        )
        batch.create_unique_constraint(op.f("uq_escrow_orders_fx_quote_id"), ["fx_quote_id"])


def downgrade() -> None:
    with op.batch_alter_table("escrow_orders", recreate="auto") as batch:
        batch.drop_constraint(op.f("uq_escrow_orders_fx_quote_id"), type_="unique")
        batch.drop_constraint(op.f("fk_escrow_orders_fx_quote_id_fx_quotes"), type_="foreignkey")
        batch.drop_column("fx_quote_id")
