"""Payouts to banks and mobile money through a payout rail.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from soko.db.types import UtcDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "payouts",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("merchant_id", sa.String(length=40), nullable=False),
        sa.Column("wallet_id", sa.String(length=40), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("fee", sa.BigInteger(), nullable=False),
        sa.Column("destination_kind", sa.String(length=16), nullable=False),
        sa.Column("bank_code", sa.String(length=11), nullable=True),
        sa.Column("account_number", sa.String(length=34), nullable=True),
        sa.Column("account_name", sa.String(length=80), nullable=True),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("rail", sa.String(length=16), nullable=False),
        sa.Column("rail_reference", sa.String(length=64), nullable=True),
        sa.Column("hold_id", sa.String(length=40), nullable=False),
        sa.Column("fee_hold_id", sa.String(length=40), nullable=True),
        sa.Column("failure_reason", sa.String(length=100), nullable=True),
        sa.Column("polls", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("rail_errors", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("next_attempt_at", UtcDateTime(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint("amount > 0", name=op.f("ck_payouts_amount_positive")),
        sa.CheckConstraint("fee >= 0", name=op.f("ck_payouts_fee_non_negative")),
        sa.CheckConstraint(
            "state IN ('requested', 'submitted', 'paid', 'failed')",
            name=op.f("ck_payouts_state_valid"),
        ),
        sa.CheckConstraint(
            "(destination_kind = 'bank_account' AND bank_code IS NOT NULL"
            " AND account_number IS NOT NULL AND account_name IS NOT NULL AND phone IS NULL)"
            " OR (destination_kind = 'mobile_money' AND phone IS NOT NULL AND bank_code IS NULL"
            " AND account_number IS NULL AND account_name IS NULL)",
            name=op.f("ck_payouts_destination_complete"),
        ),
        sa.CheckConstraint(
            "state = 'requested' OR rail_reference IS NOT NULL",
            name=op.f("ck_payouts_reference_once_submitted"),
        ),
        sa.CheckConstraint(
            "(state = 'failed') = (failure_reason IS NOT NULL)",
            name=op.f("ck_payouts_failed_has_reason"),
        ),
        sa.CheckConstraint(
            "(state IN ('requested', 'submitted')) = (next_attempt_at IS NOT NULL)",
            name=op.f("ck_payouts_in_flight_iff_scheduled"),
        ),
        sa.CheckConstraint(
            "polls >= 0 AND rail_errors >= 0", name=op.f("ck_payouts_counts_non_negative")
        ),
        sa.ForeignKeyConstraint(["merchant_id"], ["users.id"], name=op.f("fk_payouts_merchant_id")),
        sa.ForeignKeyConstraint(["wallet_id"], ["wallets.id"], name=op.f("fk_payouts_wallet_id")),
        sa.ForeignKeyConstraint(["hold_id"], ["transfers.id"], name=op.f("fk_payouts_hold_id")),
        sa.ForeignKeyConstraint(
            ["fee_hold_id"], ["transfers.id"], name=op.f("fk_payouts_fee_hold_id")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payouts")),
        sa.UniqueConstraint("hold_id", name=op.f("uq_payouts_hold_id")),
        sa.UniqueConstraint("fee_hold_id", name=op.f("uq_payouts_fee_hold_id")),
    )
    op.create_index(op.f("ix_payouts_merchant_id_id"), "payouts", ["merchant_id", "id"])
    in_flight = sa.text("next_attempt_at IS NOT NULL")
    op.create_index(
        op.f("ix_payouts_in_flight_next_attempt_at"),
        "payouts",
        ["next_attempt_at"],
        sqlite_where=in_flight,
        postgresql_where=in_flight,
    )
    op.create_table(
        "sandbox_rail_payouts",
        sa.Column("reference", sa.String(length=40), nullable=False),
        sa.Column("payout_id", sa.String(length=40), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("destination", sa.String(length=120), nullable=False),
        sa.Column("outcome", sa.String(length=8), nullable=False),
        sa.Column("reason", sa.String(length=100), nullable=True),
        sa.Column("submissions", sa.Integer(), nullable=False),
        sa.Column("submitted_at", UtcDateTime(), nullable=False),
        sa.Column("completes_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint(
            "outcome IN ('paid', 'failed')", name=op.f("ck_sandbox_rail_payouts_outcome_valid")
        ),
        sa.CheckConstraint(
            "submissions >= 1", name=op.f("ck_sandbox_rail_payouts_submissions_positive")
        ),
        sa.PrimaryKeyConstraint("reference", name=op.f("pk_sandbox_rail_payouts")),
        sa.UniqueConstraint("payout_id", name=op.f("uq_sandbox_rail_payouts_payout_id")),
    )


def downgrade() -> None:
    op.drop_table("sandbox_rail_payouts")
    op.drop_index(op.f("ix_payouts_in_flight_next_attempt_at"), table_name="payouts")
    op.drop_index(op.f("ix_payouts_merchant_id_id"), table_name="payouts")
    op.drop_table("payouts")
