"""M-Pesa: STK push deposits, C2B payments, reversals, receipts, and the B2C rail's books.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from soko.db.types import UtcDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mpesa_b2c_payouts",
        sa.Column("payout_id", sa.String(length=40), nullable=False),
        sa.Column("shortcode", sa.String(length=12), nullable=False),
        sa.Column("phone", sa.String(length=12), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("conversation_id", sa.String(length=64), nullable=True),
        sa.Column("status_query_id", sa.String(length=64), nullable=True),
        sa.Column("receipt", sa.String(length=20), nullable=True),
        sa.Column("result_code", sa.String(length=32), nullable=True),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.Column("submitted_at", UtcDateTime(), nullable=False),
        sa.Column("status_asked_at", UtcDateTime(), nullable=True),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint(
            "(state = 'failed') = (reason IS NOT NULL)",
            name=op.f("ck_mpesa_b2c_payouts_failed_has_reason"),
        ),
        sa.CheckConstraint(
            "(state = 'paid') = (receipt IS NOT NULL)",
            name=op.f("ck_mpesa_b2c_payouts_paid_has_receipt"),
        ),
        sa.CheckConstraint(
            "state IN ('sending', 'submitted', 'unknown', 'paid', 'failed')",
            name=op.f("ck_mpesa_b2c_payouts_state_valid"),
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_mpesa_b2c_payouts_amount_positive")),
        sa.PrimaryKeyConstraint("payout_id", name=op.f("pk_mpesa_b2c_payouts")),
        sa.UniqueConstraint("receipt", name=op.f("uq_mpesa_b2c_payouts_receipt")),
        sa.UniqueConstraint("status_query_id", name=op.f("uq_mpesa_b2c_payouts_status_query_id")),
    )
    op.create_table(
        "mpesa_c2b_payments",
        sa.Column("trans_id", sa.String(length=20), nullable=False),
        sa.Column("shortcode", sa.String(length=12), nullable=False),
        sa.Column("bill_ref_number", sa.String(length=40), nullable=False),
        sa.Column("msisdn", sa.String(length=64), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=True),
        sa.Column("transfer_id", sa.String(length=40), nullable=False),
        sa.Column("paid_at", UtcDateTime(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint(
            "(state = 'suspense' AND user_id IS NULL)"
            " OR (state IN ('credited', 'assigned') AND user_id IS NOT NULL)"
            " OR state = 'reversed'",
            name=op.f("ck_mpesa_c2b_payments_owner_iff_credited"),
        ),
        sa.CheckConstraint(
            "state IN ('credited', 'suspense', 'assigned', 'reversed')",
            name=op.f("ck_mpesa_c2b_payments_state_valid"),
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_mpesa_c2b_payments_amount_positive")),
        sa.ForeignKeyConstraint(
            ["transfer_id"], ["transfers.id"], name=op.f("fk_mpesa_c2b_payments_transfer_id")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_mpesa_c2b_payments_user_id")
        ),
        sa.PrimaryKeyConstraint("trans_id", name=op.f("pk_mpesa_c2b_payments")),
        sa.UniqueConstraint("transfer_id", name=op.f("uq_mpesa_c2b_payments_transfer_id")),
    )
    op.create_table(
        "mpesa_deposits",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("wallet_id", sa.String(length=40), nullable=False),
        sa.Column("shortcode", sa.String(length=12), nullable=False),
        sa.Column("phone", sa.String(length=12), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("account_reference", sa.String(length=12), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("checkout_request_id", sa.String(length=64), nullable=True),
        sa.Column("merchant_request_id", sa.String(length=64), nullable=True),
        sa.Column("receipt", sa.String(length=20), nullable=True),
        sa.Column("outcome", sa.String(length=24), nullable=True),
        sa.Column("result_code", sa.Integer(), nullable=True),
        sa.Column("result_desc", sa.String(length=200), nullable=True),
        sa.Column("transfer_id", sa.String(length=40), nullable=True),
        sa.Column("queries", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("next_check_at", UtcDateTime(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint(
            "(state = 'paid') = (transfer_id IS NOT NULL)",
            name=op.f("ck_mpesa_deposits_paid_iff_credited"),
        ),
        sa.CheckConstraint(
            "(state IN ('initiated', 'pending')) = (next_check_at IS NOT NULL)",
            name=op.f("ck_mpesa_deposits_in_flight_iff_scheduled"),
        ),
        sa.CheckConstraint(
            "state IN ('initiated', 'failed', 'unknown') OR checkout_request_id IS NOT NULL",
            name=op.f("ck_mpesa_deposits_pushed_has_checkout"),
        ),
        sa.CheckConstraint(
            "state IN ('initiated', 'pending', 'paid', 'failed', 'unknown')",
            name=op.f("ck_mpesa_deposits_state_valid"),
        ),
        sa.CheckConstraint(
            "amount > 0 AND amount % 100 = 0", name=op.f("ck_mpesa_deposits_amount_whole_shillings")
        ),
        sa.CheckConstraint("queries >= 0", name=op.f("ck_mpesa_deposits_queries_non_negative")),
        sa.ForeignKeyConstraint(
            ["transfer_id"], ["transfers.id"], name=op.f("fk_mpesa_deposits_transfer_id")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_mpesa_deposits_user_id")),
        sa.ForeignKeyConstraint(
            ["wallet_id"], ["wallets.id"], name=op.f("fk_mpesa_deposits_wallet_id")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mpesa_deposits")),
        sa.UniqueConstraint(
            "checkout_request_id", name=op.f("uq_mpesa_deposits_checkout_request_id")
        ),
        sa.UniqueConstraint("receipt", name=op.f("uq_mpesa_deposits_receipt")),
        sa.UniqueConstraint("transfer_id", name=op.f("uq_mpesa_deposits_transfer_id")),
    )
    op.create_index(
        "ix_mpesa_deposits_in_flight_next_check_at",
        "mpesa_deposits",
        ["next_check_at"],
        unique=False,
        sqlite_where=sa.text("next_check_at IS NOT NULL"),
        postgresql_where=sa.text("next_check_at IS NOT NULL"),
    )
    op.create_index(
        "ix_mpesa_deposits_user_id_id", "mpesa_deposits", ["user_id", "id"], unique=False
    )
    op.create_table(
        "mpesa_receipts",
        sa.Column("receipt", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("direction", sa.String(length=3), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("shortcode", sa.String(length=12), nullable=False),
        sa.Column("transfer_id", sa.String(length=40), nullable=True),
        sa.Column("source_id", sa.String(length=40), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint(
            "direction IN ('in', 'out')", name=op.f("ck_mpesa_receipts_direction_valid")
        ),
        sa.CheckConstraint(
            "kind IN ('stk', 'c2b', 'b2c', 'reversal')", name=op.f("ck_mpesa_receipts_kind_valid")
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_mpesa_receipts_amount_positive")),
        sa.ForeignKeyConstraint(
            ["transfer_id"], ["transfers.id"], name=op.f("fk_mpesa_receipts_transfer_id")
        ),
        sa.PrimaryKeyConstraint("receipt", name=op.f("pk_mpesa_receipts")),
    )
    op.create_index("ix_mpesa_receipts_shortcode", "mpesa_receipts", ["shortcode"], unique=False)
    op.create_table(
        "mpesa_reversals",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("receipt", sa.String(length=20), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("originator_conversation_id", sa.String(length=64), nullable=True),
        sa.Column("conversation_id", sa.String(length=64), nullable=True),
        sa.Column("result_code", sa.String(length=32), nullable=True),
        sa.Column("result_desc", sa.String(length=200), nullable=True),
        sa.Column("reversal_receipt", sa.String(length=20), nullable=True),
        sa.Column("hold_id", sa.String(length=40), nullable=False),
        sa.Column("transfer_id", sa.String(length=40), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint(
            "(state IN ('reversed', 'failed')) = (transfer_id IS NOT NULL)",
            name=op.f("ck_mpesa_reversals_final_iff_resolved"),
        ),
        sa.CheckConstraint(
            "state IN ('requested', 'reversed', 'failed', 'unknown')",
            name=op.f("ck_mpesa_reversals_state_valid"),
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_mpesa_reversals_amount_positive")),
        sa.ForeignKeyConstraint(
            ["hold_id"], ["transfers.id"], name=op.f("fk_mpesa_reversals_hold_id")
        ),
        sa.ForeignKeyConstraint(
            ["transfer_id"], ["transfers.id"], name=op.f("fk_mpesa_reversals_transfer_id")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mpesa_reversals")),
        sa.UniqueConstraint("hold_id", name=op.f("uq_mpesa_reversals_hold_id")),
        sa.UniqueConstraint("reversal_receipt", name=op.f("uq_mpesa_reversals_reversal_receipt")),
        sa.UniqueConstraint("transfer_id", name=op.f("uq_mpesa_reversals_transfer_id")),
    )
    op.create_index(
        "ix_mpesa_reversals_originator_conversation_id",
        "mpesa_reversals",
        ["originator_conversation_id"],
        unique=False,
    )
    op.create_index("ix_mpesa_reversals_receipt", "mpesa_reversals", ["receipt"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_mpesa_reversals_receipt", table_name="mpesa_reversals")
    op.drop_index("ix_mpesa_reversals_originator_conversation_id", table_name="mpesa_reversals")
    op.drop_table("mpesa_reversals")
    op.drop_index("ix_mpesa_receipts_shortcode", table_name="mpesa_receipts")
    op.drop_table("mpesa_receipts")
    op.drop_index("ix_mpesa_deposits_user_id_id", table_name="mpesa_deposits")
    op.drop_index(
        "ix_mpesa_deposits_in_flight_next_check_at",
        table_name="mpesa_deposits",
        sqlite_where=sa.text("next_check_at IS NOT NULL"),
        postgresql_where=sa.text("next_check_at IS NOT NULL"),
    )
    op.drop_table("mpesa_deposits")
    op.drop_table("mpesa_c2b_payments")
    op.drop_table("mpesa_b2c_payouts")
