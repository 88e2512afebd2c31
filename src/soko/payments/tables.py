"""Payments' tables: payments (0002, FX sides 0010), refunds, payment requests (0004)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    String,
    Table,
    text,
)

from soko.db.metadata import metadata
from soko.db.types import UtcDateTime

payments = Table(
    "payments",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("payer_wallet_id", String(40), ForeignKey("wallets.id"), nullable=True),
    Column("payee_wallet_id", String(40), ForeignKey("wallets.id"), nullable=True),
    # Money sent to a number with no wallet yet waits for it under a hold.
    Column("payee_phone", String(20), nullable=True),
    Column("amount", BigInteger, nullable=False),
    # What the payer paid on top of the amount, and what the agent earned.
    Column("fee", BigInteger, nullable=False),
    Column("commission", BigInteger, nullable=False, server_default=text("0")),
    Column("currency", String(3), nullable=False),
    Column("message", String(140), nullable=True),
    Column("hold_id", String(40), ForeignKey("transfers.id"), nullable=True, unique=True),
    Column("fee_hold_id", String(40), ForeignKey("transfers.id"), nullable=True, unique=True),
    Column("created_at", UtcDateTime, nullable=False),
    CheckConstraint("amount > 0", name="amount_positive"),
    CheckConstraint("fee >= 0", name="fee_non_negative"),
    CheckConstraint("commission >= 0", name="commission_non_negative"),
    # Refunds so far, and the part of the merchant's fee they gave back (merchant payments).
    Column("refunded", BigInteger, nullable=False, server_default=text("0")),
    Column("fee_refunded", BigInteger, nullable=False, server_default=text("0")),
    # Cross-currency payments (migration 0010): what the payee received in its own currency.
    Column("target_currency", String(3), nullable=True),
    Column("target_amount", BigInteger, nullable=True),
    CheckConstraint(
        "kind IN ('p2p', 'cash_in', 'cash_out', 'float_topup', 'merchant', 'escrow',"
        " 'fx_p2p', 'fx_merchant', 'fx_conversion')",
        name="kind_valid",
    ),
    CheckConstraint(
        "(kind IN ('fx_p2p', 'fx_merchant', 'fx_conversion'))"
        " = (target_currency IS NOT NULL AND target_amount IS NOT NULL)"
        " AND (target_currency IS NULL) = (target_amount IS NULL)"
        " AND (target_amount IS NULL OR target_amount > 0)",
        name="fx_has_target",
    ),
    # Never more refunded than was paid, nor more fee given back than was charged.
    CheckConstraint("refunded >= 0 AND refunded <= amount", name="refunded_within_amount"),
    CheckConstraint("fee_refunded >= 0 AND fee_refunded <= fee", name="fee_refunded_within_fee"),
    CheckConstraint(
        "payee_wallet_id IS NOT NULL OR (payee_phone IS NOT NULL AND hold_id IS NOT NULL)",
        name="payee_known_or_held",
    ),
    # The daily and monthly KYC limits sum what a wallet paid out since a time.
    Index("ix_payments_payer_wallet_id_created_at", "payer_wallet_id", "created_at"),
    # Covering (migration 0018): a merchant's sales by time, and everything credit's features
    # read of them, answered from the index alone, never from the payments' rows.
    Index(
        "ix_payments_payee_sales",
        "payee_wallet_id",
        "created_at",
        "kind",
        "amount",
        "refunded",
        "payer_wallet_id",
    ),
    Index("ix_payments_payee_phone", "payee_phone"),
)

# --- merchant payments: refunds, payment requests (migration 0004) ------------------------------

refunds = Table(
    "refunds",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("payment_id", String(40), ForeignKey("payments.id"), nullable=False),
    Column("amount", BigInteger, nullable=False),
    # The share of the payment's merchant fee this refund gave back to the merchant.
    Column("fee_returned", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("reason", String(140), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    CheckConstraint("amount > 0", name="amount_positive"),
    CheckConstraint("fee_returned >= 0", name="fee_returned_non_negative"),
    Index("ix_refunds_payment_id", "payment_id"),
)

payment_requests = Table(
    "payment_requests",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("merchant_id", String(40), ForeignKey("users.id"), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    # The merchant's own reference (an invoice or order number), shown to the payer.
    Column("reference", String(25), nullable=False),
    Column("description", String(140), nullable=True),
    Column("status", String(16), nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    # Paid once: the payment that paid it.
    Column("payment_id", String(40), ForeignKey("payments.id"), nullable=True, unique=True),
    Column("created_at", UtcDateTime, nullable=False),
    CheckConstraint("amount > 0", name="amount_positive"),
    CheckConstraint("status IN ('open', 'paid', 'cancelled')", name="status_valid"),
    CheckConstraint("(status = 'paid') = (payment_id IS NOT NULL)", name="paid_iff_payment"),
    Index("ix_payment_requests_merchant_id_created_at", "merchant_id", "created_at"),
)
