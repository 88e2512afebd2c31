"""Merchant credit: decisions with their audit record, offers, loans and their repayments; each
merchant row names its open loan, so a payment knows whether to sweep part of it without a read.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from soko.db.types import UtcDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "credit_decisions",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("merchant_id", sa.String(length=40), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("scorecard_version", sa.String(length=64), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("grade", sa.String(length=8), nullable=False),
        sa.Column("offered", sa.Integer(), nullable=False),
        sa.Column("record", sa.Text(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint("offered IN (0, 1)", name=op.f("ck_credit_decisions_offered_boolean")),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["users.id"], name=op.f("fk_credit_decisions_merchant_id")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_decisions")),
    )
    with op.batch_alter_table("credit_decisions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_credit_decisions_merchant_id_created_at",
            ["merchant_id", "created_at"],
            unique=False,
        )

    op.create_table(
        "credit_offers",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("decision_id", sa.String(length=40), nullable=False),
        sa.Column("merchant_id", sa.String(length=40), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("limit_amount", sa.BigInteger(), nullable=False),
        sa.Column("fee_bps", sa.Integer(), nullable=False),
        sa.Column("withhold_bps", sa.Integer(), nullable=False),
        sa.Column("term_days", sa.Integer(), nullable=False),
        sa.Column("grade", sa.String(length=8), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint(
            "status IN ('open', 'used', 'superseded')", name=op.f("ck_credit_offers_status_valid")
        ),
        sa.CheckConstraint("limit_amount > 0", name=op.f("ck_credit_offers_limit_positive")),
        sa.ForeignKeyConstraint(
            ["decision_id"], ["credit_decisions.id"], name=op.f("fk_credit_offers_decision_id")
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["users.id"], name=op.f("fk_credit_offers_merchant_id")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_offers")),
    )
    with op.batch_alter_table("credit_offers", schema=None) as batch_op:
        batch_op.create_index(
            "ix_credit_offers_merchant_id_created_at", ["merchant_id", "created_at"], unique=False
        )

    op.create_table(
        "loans",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("merchant_id", sa.String(length=40), nullable=False),
        sa.Column("offer_id", sa.String(length=40), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("principal", sa.BigInteger(), nullable=False),
        sa.Column("fee", sa.BigInteger(), nullable=False),
        sa.Column("late_fees", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("fee_bps", sa.Integer(), nullable=False),
        sa.Column("withhold_bps", sa.Integer(), nullable=False),
        sa.Column("term_days", sa.Integer(), nullable=False),
        sa.Column("repayment", sa.String(length=12), nullable=False),
        sa.Column("method", sa.String(length=12), nullable=True),
        sa.Column("frequency", sa.String(length=8), nullable=True),
        sa.Column("instalments", sa.Integer(), nullable=True),
        sa.Column("repaid_principal", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("repaid_fee", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("missed_periods", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("max_days_past_due", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("scorecard_version", sa.String(length=64), nullable=False),
        sa.Column("grade", sa.String(length=8), nullable=False),
        sa.Column("disbursed_at", UtcDateTime(), nullable=False),
        sa.Column("closed_at", UtcDateTime(), nullable=True),
        sa.CheckConstraint(
            "repayment IN ('revenue', 'instalments')", name=op.f("ck_loans_repayment_valid")
        ),
        sa.CheckConstraint(
            "status IN ('active', 'repaid', 'written_off')", name=op.f("ck_loans_status_valid")
        ),
        sa.CheckConstraint("fee >= 0 AND late_fees >= 0", name=op.f("ck_loans_fees_non_negative")),
        sa.CheckConstraint("principal > 0", name=op.f("ck_loans_principal_positive")),
        sa.CheckConstraint(
            "repaid_fee >= 0 AND repaid_fee <= fee + late_fees", name=op.f("ck_loans_fee_within")
        ),
        sa.CheckConstraint(
            "repaid_principal >= 0 AND repaid_principal <= principal",
            name=op.f("ck_loans_principal_within"),
        ),
        sa.ForeignKeyConstraint(["merchant_id"], ["users.id"], name=op.f("fk_loans_merchant_id")),
        sa.ForeignKeyConstraint(["offer_id"], ["credit_offers.id"], name=op.f("fk_loans_offer_id")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loans")),
        sa.UniqueConstraint("offer_id", name=op.f("uq_loans_offer_id")),
    )
    with op.batch_alter_table("loans", schema=None) as batch_op:
        batch_op.create_index(
            "ix_loans_merchant_id_disbursed_at", ["merchant_id", "disbursed_at"], unique=False
        )
        batch_op.create_index("ix_loans_status", ["status"], unique=False)

    op.create_table(
        "loan_repayments",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("loan_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("principal_part", sa.BigInteger(), nullable=False),
        sa.Column("fee_part", sa.BigInteger(), nullable=False),
        sa.Column("payment_id", sa.String(length=40), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('sweep', 'manual', 'minimum')", name=op.f("ck_loan_repayments_kind_valid")
        ),
        sa.CheckConstraint(
            "amount > 0 AND amount = principal_part + fee_part",
            name=op.f("ck_loan_repayments_parts_sum"),
        ),
        sa.ForeignKeyConstraint(["loan_id"], ["loans.id"], name=op.f("fk_loan_repayments_loan_id")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loan_repayments")),
    )
    with op.batch_alter_table("loan_repayments", schema=None) as batch_op:
        batch_op.create_index(
            "ix_loan_repayments_loan_id_created_at", ["loan_id", "created_at"], unique=False
        )

    with op.batch_alter_table("merchants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("open_loan_id", sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("merchants", schema=None) as batch_op:
        batch_op.drop_column("open_loan_id")
    for table in ("loan_repayments", "loans", "credit_offers", "credit_decisions"):
        op.drop_table(table)
