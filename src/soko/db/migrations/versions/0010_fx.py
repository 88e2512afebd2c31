"""FX: rates with their history, quotes, and the payee's side of cross-currency payments.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from soko.db.types import UtcDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_KINDS_BEFORE = "kind IN ('p2p', 'cash_in', 'cash_out', 'float_topup', 'merchant', 'escrow')"
_KINDS_AFTER = (
    "kind IN ('p2p', 'cash_in', 'cash_out', 'float_topup', 'merchant', 'escrow',"
    " 'fx_p2p', 'fx_merchant', 'fx_conversion')"
)
_FX_HAS_TARGET = (
    "(kind IN ('fx_p2p', 'fx_merchant', 'fx_conversion'))"
    " = (target_currency IS NOT NULL AND target_amount IS NOT NULL)"
    " AND (target_currency IS NULL) = (target_amount IS NULL)"
    " AND (target_amount IS NULL OR target_amount > 0)"
)


def upgrade() -> None:
    # A cross-currency payment is a payment (statements, KYC limits): the payer's side in the
    # columns it always had, the payee's in two new ones.
    with op.batch_alter_table("payments", recreate="auto") as batch:
        batch.add_column(sa.Column("target_currency", sa.String(length=3), nullable=True))
        batch.add_column(sa.Column("target_amount", sa.BigInteger(), nullable=True))
        batch.drop_constraint(op.f("ck_payments_kind_valid"), type_="check")
        batch.create_check_constraint("kind_valid", _KINDS_AFTER)
        batch.create_check_constraint("fx_has_target", _FX_HAS_TARGET)
    op.create_table(
        "fx_rates",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("base", sa.String(length=3), nullable=False),
        sa.Column("quote", sa.String(length=3), nullable=False),
        sa.Column("rate", sa.String(length=80), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("as_of", UtcDateTime(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint("base <> quote", name=op.f("ck_fx_rates_pair_of_two")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fx_rates")),
        sa.UniqueConstraint(
            "base", "quote", "source", "as_of", name=op.f("uq_fx_rates_base_quote_source_as_of")
        ),
    )
    op.create_table(
        "fx_quotes",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("owner_id", sa.String(length=40), nullable=False),
        sa.Column("source_currency", sa.String(length=3), nullable=False),
        sa.Column("target_currency", sa.String(length=3), nullable=False),
        sa.Column("source_debit", sa.BigInteger(), nullable=False),
        sa.Column("converted", sa.BigInteger(), nullable=False),
        sa.Column("spread", sa.BigInteger(), nullable=False),
        sa.Column("fee", sa.BigInteger(), nullable=False),
        sa.Column("target_amount", sa.BigInteger(), nullable=False),
        sa.Column("spread_bps", sa.Integer(), nullable=False),
        sa.Column("mid", sa.String(length=200), nullable=False),
        sa.Column("customer_rate", sa.String(length=200), nullable=False),
        sa.Column("rate_source", sa.String(length=200), nullable=False),
        sa.Column("rate_as_of", UtcDateTime(), nullable=False),
        sa.Column("derived_from", sa.Text(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("used_at", UtcDateTime(), nullable=True),
        sa.Column("payment_id", sa.String(length=40), nullable=True),
        sa.CheckConstraint(
            "source_currency <> target_currency", name=op.f("ck_fx_quotes_two_currencies")
        ),
        sa.CheckConstraint(
            "source_debit = converted + spread + fee AND converted > 0 AND spread >= 0"
            " AND fee >= 0 AND target_amount > 0",
            name=op.f("ck_fx_quotes_amounts_add_up"),
        ),
        sa.CheckConstraint(
            "spread_bps >= 0 AND spread_bps <= 2000", name=op.f("ck_fx_quotes_spread_bps_range")
        ),
        sa.CheckConstraint(
            "expires_at > created_at", name=op.f("ck_fx_quotes_expires_after_created")
        ),
        sa.CheckConstraint(
            "(used_at IS NULL) = (payment_id IS NULL)", name=op.f("ck_fx_quotes_used_iff_payment")
        ),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], name=op.f("fk_fx_quotes_owner_id")),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payments.id"], name=op.f("fk_fx_quotes_payment_id")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fx_quotes")),
        sa.UniqueConstraint("payment_id", name=op.f("uq_fx_quotes_payment_id")),
    )
    op.create_index(op.f("ix_fx_quotes_used_at"), "fx_quotes", ["used_at"])
    op.create_index(op.f("ix_fx_quotes_owner_id"), "fx_quotes", ["owner_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_fx_quotes_owner_id"), table_name="fx_quotes")
    op.drop_index(op.f("ix_fx_quotes_used_at"), table_name="fx_quotes")
    op.drop_table("fx_quotes")
    op.drop_table("fx_rates")
    with op.batch_alter_table("payments", recreate="auto") as batch:
        batch.drop_constraint(op.f("ck_payments_fx_has_target"), type_="check")
        batch.drop_constraint(op.f("ck_payments_kind_valid"), type_="check")
        batch.create_check_constraint("kind_valid", _KINDS_BEFORE)
        batch.drop_column("target_amount")
        batch.drop_column("target_currency")
