"""Merchant payments, refunds and payment requests.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from soko.db.types import UtcDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_KINDS_BEFORE = "kind IN ('p2p', 'cash_in', 'cash_out', 'float_topup')"
_KINDS_AFTER = "kind IN ('p2p', 'cash_in', 'cash_out', 'float_topup', 'merchant')"


def upgrade() -> None:
    # SQLite cannot alter a CHECK constraint in place: batch mode copies the table.
    with op.batch_alter_table("payments", recreate="auto") as batch:
        batch.add_column(
            sa.Column("refunded", sa.BigInteger(), server_default=sa.text("0"), nullable=False)
        )
        batch.add_column(
            sa.Column("fee_refunded", sa.BigInteger(), server_default=sa.text("0"), nullable=False)
        )
        batch.drop_constraint(op.f("ck_payments_kind_valid"), type_="check")
        batch.create_check_constraint("kind_valid", _KINDS_AFTER)
        batch.create_check_constraint(
            "refunded_within_amount", "refunded >= 0 AND refunded <= amount"
        )
        batch.create_check_constraint(
            "fee_refunded_within_fee", "fee_refunded >= 0 AND fee_refunded <= fee"
        )
    op.create_table(
        "refunds",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("payment_id", sa.String(length=40), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("fee_returned", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("reason", sa.String(length=140), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint("amount > 0", name="amount_positive"),
        sa.CheckConstraint("fee_returned >= 0", name="fee_returned_non_negative"),
        sa.ForeignKeyConstraint(["payment_id"], ["payments.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_refunds_payment_id", "refunds", ["payment_id"])
    op.create_table(
        "payment_requests",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("merchant_id", sa.String(length=40), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("reference", sa.String(length=25), nullable=False),
        sa.Column("description", sa.String(length=140), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("payment_id", sa.String(length=40), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint("amount > 0", name="amount_positive"),
        sa.CheckConstraint("status IN ('open', 'paid', 'cancelled')", name="status_valid"),
        sa.CheckConstraint("(status = 'paid') = (payment_id IS NOT NULL)", name="paid_iff_payment"),
        sa.ForeignKeyConstraint(["merchant_id"], ["users.id"]),
        sa.ForeignKeyConstraint(["payment_id"], ["payments.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("payment_id"),
    )
    op.create_index(
        "ix_payment_requests_merchant_id_created_at",
        "payment_requests",
        ["merchant_id", "created_at"],
    )


def downgrade() -> None:
    op.drop_table("payment_requests")
    op.drop_table("refunds")
    with op.batch_alter_table("payments", recreate="auto") as batch:
        batch.drop_constraint(op.f("ck_payments_fee_refunded_within_fee"), type_="check")
        batch.drop_constraint(op.f("ck_payments_refunded_within_amount"), type_="check")
        batch.drop_constraint(op.f("ck_payments_kind_valid"), type_="check")
        batch.create_check_constraint("kind_valid", _KINDS_BEFORE)
        batch.drop_column("fee_refunded")
        batch.drop_column("refunded")
