"""People, wallets, payments, API keys and sessions.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from soko.db.types import UtcDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("kyc_tier", sa.Integer(), nullable=False),
        sa.Column("national_id", sa.String(length=32), nullable=True),
        sa.Column("pin_hash", sa.String(length=200), nullable=True),
        sa.Column("pin_failures", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("pin_locked", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('consumer', 'merchant', 'agent')", name=op.f("ck_users_kind_valid")
        ),
        sa.CheckConstraint(
            "kyc_tier = 0 OR national_id IS NOT NULL",
            name=op.f("ck_users_kyc_tier_needs_national_id"),
        ),
        sa.CheckConstraint("kyc_tier IN (0, 1, 2)", name=op.f("ck_users_kyc_tier_valid")),
        sa.CheckConstraint("pin_failures >= 0", name=op.f("ck_users_pin_failures_non_negative")),
        sa.CheckConstraint("pin_locked IN (0, 1)", name=op.f("ck_users_pin_locked_boolean")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("phone", name=op.f("uq_users_phone")),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("merchant_id", sa.String(length=40), nullable=True),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("revoked_at", UtcDateTime(), nullable=True),
        sa.CheckConstraint(
            "(role = 'merchant') = (merchant_id IS NOT NULL)",
            name=op.f("ck_api_keys_merchant_key_has_merchant"),
        ),
        sa.CheckConstraint("role IN ('operator', 'merchant')", name=op.f("ck_api_keys_role_valid")),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["users.id"], name=op.f("fk_api_keys_merchant_id")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("secret_hash", name=op.f("uq_api_keys_secret_hash")),
    )
    op.create_table(
        "merchants",
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("trading_name", sa.String(length=80), nullable=False),
        sa.Column("category_code", sa.String(length=4), nullable=False),
        sa.Column("settlement_currency", sa.String(length=3), nullable=False),
        sa.Column("till_number", sa.String(length=10), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_merchants_user_id")),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_merchants")),
        sa.UniqueConstraint("till_number", name=op.f("uq_merchants_till_number")),
    )
    op.create_table(
        "sessions",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_sessions_user_id")),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_sessions")),
    )
    op.create_index(op.f("ix_sessions_user_id"), "sessions", ["user_id"], unique=False)
    op.create_table(
        "wallets",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_wallets_account_id")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_wallets_user_id")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wallets")),
        sa.UniqueConstraint("account_id", name=op.f("uq_wallets_account_id")),
        sa.UniqueConstraint("user_id", "currency", name=op.f("uq_wallets_user_id_currency")),
    )
    op.create_table(
        "payments",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("payer_wallet_id", sa.String(length=40), nullable=True),
        sa.Column("payee_wallet_id", sa.String(length=40), nullable=True),
        sa.Column("payee_phone", sa.String(length=20), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("fee", sa.BigInteger(), nullable=False),
        sa.Column("commission", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("message", sa.String(length=140), nullable=True),
        sa.Column("hold_id", sa.String(length=40), nullable=True),
        sa.Column("fee_hold_id", sa.String(length=40), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('p2p', 'cash_in', 'cash_out', 'float_topup')",
            name=op.f("ck_payments_kind_valid"),
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_payments_amount_positive")),
        sa.CheckConstraint("commission >= 0", name=op.f("ck_payments_commission_non_negative")),
        sa.CheckConstraint("fee >= 0", name=op.f("ck_payments_fee_non_negative")),
        sa.CheckConstraint(
            "payee_wallet_id IS NOT NULL OR (payee_phone IS NOT NULL AND hold_id IS NOT NULL)",
            name=op.f("ck_payments_payee_known_or_held"),
        ),
        sa.ForeignKeyConstraint(
            ["fee_hold_id"], ["transfers.id"], name=op.f("fk_payments_fee_hold_id")
        ),
        sa.ForeignKeyConstraint(["hold_id"], ["transfers.id"], name=op.f("fk_payments_hold_id")),
        sa.ForeignKeyConstraint(
            ["payee_wallet_id"], ["wallets.id"], name=op.f("fk_payments_payee_wallet_id")
        ),
        sa.ForeignKeyConstraint(
            ["payer_wallet_id"], ["wallets.id"], name=op.f("fk_payments_payer_wallet_id")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
        sa.UniqueConstraint("fee_hold_id", name=op.f("uq_payments_fee_hold_id")),
        sa.UniqueConstraint("hold_id", name=op.f("uq_payments_hold_id")),
    )
    op.create_index(op.f("ix_payments_payee_phone"), "payments", ["payee_phone"], unique=False)
    op.create_index(
        op.f("ix_payments_payee_wallet_id_created_at"),
        "payments",
        ["payee_wallet_id", "created_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_payments_payer_wallet_id_created_at"),
        "payments",
        ["payer_wallet_id", "created_at"],
        unique=False,
    )


def downgrade() -> None:
    for table in ("payments", "wallets", "sessions", "merchants", "api_keys", "users"):
        op.drop_table(table)
