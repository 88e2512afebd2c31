"""Payouts' tables (migration 0005), and the sandbox rail's own books."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    text,
)

from soko.db.metadata import metadata
from soko.db.types import UtcDateTime

# --- payouts (migration 0005) --------------------------------------------------------------------

payouts = Table(
    "payouts",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("merchant_id", String(40), ForeignKey("users.id"), nullable=False),
    Column("wallet_id", String(40), ForeignKey("wallets.id"), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("fee", BigInteger, nullable=False),
    # Where the money goes: a bank account, or a mobile-money number.
    Column("destination_kind", String(16), nullable=False),
    Column("bank_code", String(11), nullable=True),
    Column("account_number", String(34), nullable=True),
    Column("account_name", String(80), nullable=True),
    Column("phone", String(20), nullable=True),
    Column("state", String(16), nullable=False),
    # The rail that took it (a payout is finished by the rail that took it) and its reference.
    Column("rail", String(16), nullable=False),
    Column("rail_reference", String(64), nullable=True),
    Column("hold_id", String(40), ForeignKey("transfers.id"), nullable=False, unique=True),
    Column("fee_hold_id", String(40), ForeignKey("transfers.id"), nullable=True, unique=True),
    Column("failure_reason", String(100), nullable=True),
    Column("polls", Integer, nullable=False, server_default=text("0")),
    Column("rail_errors", Integer, nullable=False, server_default=text("0")),
    # When a worker should look at it next (a claim pushes it past the lease); NULL once final.
    Column("next_attempt_at", UtcDateTime, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    CheckConstraint("amount > 0", name="amount_positive"),
    CheckConstraint("fee >= 0", name="fee_non_negative"),
    CheckConstraint("state IN ('requested', 'submitted', 'paid', 'failed')", name="state_valid"),
    CheckConstraint(
        "(destination_kind = 'bank_account' AND bank_code IS NOT NULL"
        " AND account_number IS NOT NULL AND account_name IS NOT NULL AND phone IS NULL)"
        " OR (destination_kind = 'mobile_money' AND phone IS NOT NULL AND bank_code IS NULL"
        " AND account_number IS NULL AND account_name IS NULL)",
        name="destination_complete",
    ),
    CheckConstraint(
        "state = 'requested' OR rail_reference IS NOT NULL", name="reference_once_submitted"
    ),
    CheckConstraint("(state = 'failed') = (failure_reason IS NOT NULL)", name="failed_has_reason"),
    CheckConstraint(
        "(state IN ('requested', 'submitted')) = (next_attempt_at IS NOT NULL)",
        name="in_flight_iff_scheduled",
    ),
    CheckConstraint("polls >= 0 AND rail_errors >= 0", name="counts_non_negative"),
    # A merchant's payouts, newest first (ids are time-ordered).
    Index("ix_payouts_merchant_id_id", "merchant_id", "id"),
    # The worker's claim reads only in-flight payouts.
    Index(
        "ix_payouts_in_flight_next_attempt_at",
        "next_attempt_at",
        sqlite_where=text("next_attempt_at IS NOT NULL"),
        postgresql_where=text("next_attempt_at IS NOT NULL"),
    ),
)

# The sandbox payout rail's own books (payouts/rails/sandbox.py): a stand-in for a bank's
# system, written in its own short transactions, never in ours. Empty with a real rail.
sandbox_rail_payouts = Table(
    "sandbox_rail_payouts",
    metadata,
    Column("reference", String(40), primary_key=True),
    # One row per payout, however often it is submitted: the rail pays once.
    Column("payout_id", String(40), nullable=False, unique=True),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("destination", String(120), nullable=False),
    # Decided at submission (by the destination), revealed once completes_at has passed.
    Column("outcome", String(8), nullable=False),
    Column("reason", String(100), nullable=True),
    Column("submissions", Integer, nullable=False),
    Column("submitted_at", UtcDateTime, nullable=False),
    Column("completes_at", UtcDateTime, nullable=False),
    CheckConstraint("outcome IN ('paid', 'failed')", name="outcome_valid"),
    CheckConstraint("submissions >= 1", name="submissions_positive"),
)

# The M-Pesa payout rail's own books (payouts/rails/mpesa.py, migration 0013): what it sent to
# Daraja's B2C API and what M-Pesa answered, written in its own short transactions. Its rows
# outlive a worker killed mid-call, so a payout is never sent to M-Pesa twice.
mpesa_b2c_payouts = Table(
    "mpesa_b2c_payouts",
    metadata,
    # The payout id, which is also the OriginatorConversationID Daraja echoes in its Result.
    Column("payout_id", String(40), primary_key=True),
    Column("shortcode", String(12), nullable=False),
    Column("phone", String(12), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("state", String(16), nullable=False),
    Column("conversation_id", String(64), nullable=True),
    # The OriginatorConversationID of the last transaction status query about it.
    Column("status_query_id", String(64), nullable=True, unique=True),
    Column("receipt", String(20), nullable=True, unique=True),
    Column("result_code", String(32), nullable=True),
    Column("reason", String(200), nullable=True),
    Column("submitted_at", UtcDateTime, nullable=False),
    Column("status_asked_at", UtcDateTime, nullable=True),
    Column("updated_at", UtcDateTime, nullable=False),
    CheckConstraint("amount > 0", name="amount_positive"),
    CheckConstraint(
        "state IN ('sending', 'submitted', 'unknown', 'paid', 'failed')", name="state_valid"
    ),
    CheckConstraint("(state = 'paid') = (receipt IS NOT NULL)", name="paid_has_receipt"),
    CheckConstraint("(state = 'failed') = (reason IS NOT NULL)", name="failed_has_reason"),
)
