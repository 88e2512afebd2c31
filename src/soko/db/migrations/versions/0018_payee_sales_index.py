"""Credit's features read off one covering index: the payee's sales by time with their kind,
amount, refunds and payer, so a decision never reads the payments' rows.

It replaces ix_payments_payee_wallet_id_created_at, whose two columns lead it: every query that
used that index uses this one, and a payment still writes one index entry, not two.

Revision ID: 0018
Revises: 0013
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

_COVERING = ["payee_wallet_id", "created_at", "kind", "amount", "refunded", "payer_wallet_id"]


def upgrade() -> None:
    op.create_index("ix_payments_payee_sales", "payments", _COVERING)
    op.drop_index("ix_payments_payee_wallet_id_created_at", table_name="payments")


def downgrade() -> None:
    op.create_index(
        "ix_payments_payee_wallet_id_created_at", "payments", ["payee_wallet_id", "created_at"]
    )
    op.drop_index("ix_payments_payee_sales", table_name="payments")
