"""M-Pesa's tables (migration 0013): deposits, C2B payments, reversals, and one receipt row per
ledger movement."""

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

mpesa_deposits = Table(
    "mpesa_deposits",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("user_id", String(40), ForeignKey("users.id"), nullable=False),
    Column("wallet_id", String(40), ForeignKey("wallets.id"), nullable=False),
    Column("shortcode", String(12), nullable=False),
    Column("phone", String(12), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("account_reference", String(12), nullable=False),
    Column("state", String(16), nullable=False),
    # Daraja's id for the push: how its callback and our queries find the deposit.
    Column("checkout_request_id", String(64), nullable=True, unique=True),
    Column("merchant_request_id", String(64), nullable=True),
    Column("receipt", String(20), nullable=True, unique=True),
    Column("outcome", String(24), nullable=True),
    Column("result_code", Integer, nullable=True),
    Column("result_desc", String(200), nullable=True),
    Column("transfer_id", String(40), ForeignKey("transfers.id"), nullable=True, unique=True),
    Column("queries", Integer, nullable=False, server_default=text("0")),
    # When the worker should look at it next (a claim pushes it past the lease); NULL once final.
    Column("next_check_at", UtcDateTime, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    CheckConstraint("amount > 0 AND amount % 100 = 0", name="amount_whole_shillings"),
    CheckConstraint(
        "state IN ('initiated', 'pending', 'paid', 'failed', 'unknown')", name="state_valid"
    ),
    CheckConstraint("(state = 'paid') = (transfer_id IS NOT NULL)", name="paid_iff_credited"),
    CheckConstraint(
        "(state IN ('initiated', 'pending')) = (next_check_at IS NOT NULL)",
        name="in_flight_iff_scheduled",
    ),
    CheckConstraint(
        "state IN ('initiated', 'failed', 'unknown') OR checkout_request_id IS NOT NULL",
        name="pushed_has_checkout",
    ),
    CheckConstraint("queries >= 0", name="queries_non_negative"),
    Index("ix_mpesa_deposits_user_id_id", "user_id", "id"),
    Index(
        "ix_mpesa_deposits_in_flight_next_check_at",
        "next_check_at",
        sqlite_where=text("next_check_at IS NOT NULL"),
        postgresql_where=text("next_check_at IS NOT NULL"),
    ),
)

mpesa_c2b_payments = Table(
    "mpesa_c2b_payments",
    metadata,
    # M-Pesa's TransID: one row, and so one credit, per payment however often it is confirmed.
    Column("trans_id", String(20), primary_key=True),
    Column("shortcode", String(12), nullable=False),
    Column("bill_ref_number", String(40), nullable=False),
    Column("msisdn", String(64), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("state", String(16), nullable=False),
    Column("user_id", String(40), ForeignKey("users.id"), nullable=True),
    Column("transfer_id", String(40), ForeignKey("transfers.id"), nullable=False, unique=True),
    Column("paid_at", UtcDateTime, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    CheckConstraint("amount > 0", name="amount_positive"),
    CheckConstraint(
        "state IN ('credited', 'suspense', 'assigned', 'reversed')", name="state_valid"
    ),
    # A reversed payment keeps whoever it was credited to (or no one, from suspense).
    CheckConstraint(
        "(state = 'suspense' AND user_id IS NULL)"
        " OR (state IN ('credited', 'assigned') AND user_id IS NOT NULL)"
        " OR state = 'reversed'",
        name="owner_iff_credited",
    ),
)

mpesa_reversals = Table(
    "mpesa_reversals",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("receipt", String(20), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("state", String(16), nullable=False),
    Column("originator_conversation_id", String(64), nullable=True),
    Column("conversation_id", String(64), nullable=True),
    Column("result_code", String(32), nullable=True),
    Column("result_desc", String(200), nullable=True),
    Column("reversal_receipt", String(20), nullable=True, unique=True),
    # The pending transfer holding the money while M-Pesa reverses it (never expires), and the
    # post (reversed) or void (failed) that resolved it.
    Column("hold_id", String(40), ForeignKey("transfers.id"), nullable=False, unique=True),
    Column("transfer_id", String(40), ForeignKey("transfers.id"), nullable=True, unique=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    CheckConstraint("amount > 0", name="amount_positive"),
    CheckConstraint("state IN ('requested', 'reversed', 'failed', 'unknown')", name="state_valid"),
    CheckConstraint(
        "(state IN ('reversed', 'failed')) = (transfer_id IS NOT NULL)", name="final_iff_resolved"
    ),
    Index("ix_mpesa_reversals_receipt", "receipt"),
    Index("ix_mpesa_reversals_originator_conversation_id", "originator_conversation_id"),
)

# One row per ledger movement an M-Pesa transaction caused: its primary key is the promise of
# exactly one movement per M-Pesa receipt, and its rows are the ledger's side of the statement.
mpesa_receipts = Table(
    "mpesa_receipts",
    metadata,
    Column("receipt", String(20), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("direction", String(3), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("shortcode", String(12), nullable=False),
    Column("transfer_id", String(40), ForeignKey("transfers.id"), nullable=True),
    Column("source_id", String(40), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    CheckConstraint("amount > 0", name="amount_positive"),
    CheckConstraint("direction IN ('in', 'out')", name="direction_valid"),
    CheckConstraint("kind IN ('stk', 'c2b', 'b2c', 'reversal')", name="kind_valid"),
    Index("ix_mpesa_receipts_shortcode", "shortcode"),
)

# Transactions Soko asks M-Pesa's Transaction Status API about (migration 0017): a C2B
# confirmation credited only once the query confirms it, and a reversal whose answer was lost.
mpesa_status_checks = Table(
    "mpesa_status_checks",
    metadata,
    Column("kind", String(16), primary_key=True),
    Column("subject", String(40), primary_key=True),
    Column("transaction_id", String(20), nullable=False),
    Column("state", String(16), nullable=False),
    # The OriginatorConversationID Daraja gave the last query: its Result must name it.
    Column("query_id", String(64), nullable=True, unique=True),
    Column("queries", Integer, nullable=False, server_default=text("0")),
    Column("next_check_at", UtcDateTime, nullable=True),
    Column("amount", BigInteger, nullable=False),
    Column("shortcode", String(12), nullable=False),
    Column("bill_ref_number", String(40), nullable=False),
    Column("msisdn", String(64), nullable=False),
    Column("paid_at", UtcDateTime, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    CheckConstraint("kind IN ('c2b', 'reversal')", name="kind_valid"),
    CheckConstraint("state IN ('open', 'confirmed', 'refused')", name="state_valid"),
    CheckConstraint("(state = 'open') = (next_check_at IS NOT NULL)", name="open_iff_scheduled"),
    CheckConstraint("amount > 0", name="amount_positive"),
    CheckConstraint("queries >= 0", name="queries_non_negative"),
    Index(
        "ix_mpesa_status_checks_open_next_check_at",
        "next_check_at",
        sqlite_where=text("next_check_at IS NOT NULL"),
        postgresql_where=text("next_check_at IS NOT NULL"),
    ),
)

# Receipts an operator credited from the organisation statement (`soko mpesa credit-receipt`):
# who, when, from which file, and what was credited. The audit record of each such credit.
mpesa_statement_credits = Table(
    "mpesa_statement_credits",
    metadata,
    Column("receipt", String(20), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("source_id", String(40), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("account_number", String(40), nullable=False),
    Column("statement_sha256", String(64), nullable=False),
    Column("credited_by", String(64), nullable=False),
    Column("reason", String(200), nullable=False),
    Column("transfer_id", String(40), ForeignKey("transfers.id"), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    CheckConstraint("amount > 0", name="amount_positive"),
    CheckConstraint("kind IN ('stk', 'c2b')", name="kind_valid"),
)
