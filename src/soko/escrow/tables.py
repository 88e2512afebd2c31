"""Escrow's tables (migration 0006, 0015): orders and disputes."""

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
    Text,
    text,
)

from soko.db.metadata import metadata
from soko.db.types import UtcDateTime

# --- escrow (migration 0006) ---------------------------------------------------------------------

escrow_orders = Table(
    "escrow_orders",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("seller_id", String(40), ForeignKey("users.id"), nullable=False),
    Column("buyer_id", String(40), ForeignKey("users.id"), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("description", String(140), nullable=True),
    # [{"name": ..., "quantity": ...}] as JSON text: what the buyer agreed to pay for.
    Column("items", Text, nullable=False),
    Column("state", String(16), nullable=False),
    # Where a dispute was opened from, so a withdrawn dispute can go back there.
    Column("disputed_from", String(16), nullable=True),
    Column("disputed_at", UtcDateTime, nullable=True),
    Column("ship_by", UtcDateTime, nullable=False),
    Column("deliver_by", UtcDateTime, nullable=False),
    Column("inspection_ends_at", UtcDateTime, nullable=True),
    # The timer that runs now (escrow/domain.py next_timer), for the worker's due scan.
    Column("timer_action", String(32), nullable=True),
    Column("timer_due_at", UtcDateTime, nullable=True),
    # The buyer's money, held from funding until release or refund (never expires by itself).
    Column("hold_id", String(40), ForeignKey("transfers.id"), nullable=True, unique=True),
    # The one-time code the buyer gives at handover, kept so the buyer can see it again in the
    # web app and on USSD (ADR 0010), and wrong tries so far. Orders funded before 0008 hold
    # only an argon2 hash of theirs.
    Column("delivery_code", String(6), nullable=True),
    Column("delivery_code_hash", String(200), nullable=True),
    Column("code_failures", Integer, nullable=False, server_default=text("0")),
    # Where the money went when the order closed: the seller's part (before the fee), the fee
    # on it, and the buyer's part.
    Column("released", BigInteger, nullable=False, server_default=text("0")),
    Column("fee", BigInteger, nullable=False, server_default=text("0")),
    Column("refunded", BigInteger, nullable=False, server_default=text("0")),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    # The FX quote the buyer funded the order with, from a wallet in another currency
    # (migration 0015): what a refund gives back in that currency (docs/escrow.md, ADR 0022).
    Column("fx_quote_id", String(40), ForeignKey("fx_quotes.id"), nullable=True, unique=True),
    CheckConstraint("amount > 0", name="amount_positive"),
    CheckConstraint(
        "state IN ('created', 'funded', 'shipped', 'delivered', 'disputed', 'released',"
        " 'cancelled', 'refunded', 'resolved')",
        name="state_valid",
    ),
    # Only an order never paid for holds nothing.
    CheckConstraint(
        "(state IN ('created', 'cancelled')) = (hold_id IS NULL)", name="funded_iff_hold"
    ),
    CheckConstraint("(state = 'disputed') = (disputed_from IS NOT NULL)", name="disputed_from"),
    CheckConstraint(
        "released >= 0 AND refunded >= 0 AND fee >= 0 AND fee <= released", name="parts_valid"
    ),
    # A closed order that was paid for has given every unit to one side or the other.
    CheckConstraint(
        "CASE WHEN state IN ('released', 'refunded', 'resolved') THEN released + refunded = amount"
        " ELSE released = 0 AND refunded = 0 END",
        name="closed_orders_share_the_amount",
    ),
    CheckConstraint("code_failures >= 0", name="code_failures_non_negative"),
    Index("ix_escrow_orders_buyer_id_id", "buyer_id", "id"),
    Index("ix_escrow_orders_seller_id_id", "seller_id", "id"),
    Index(
        "ix_escrow_orders_timer_due_at",
        "timer_due_at",
        sqlite_where=text("timer_due_at IS NOT NULL"),
        postgresql_where=text("timer_due_at IS NOT NULL"),
    ),
)

escrow_disputes = Table(
    "escrow_disputes",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("order_id", String(40), ForeignKey("escrow_orders.id"), nullable=False),
    Column("reason", String(32), nullable=False),
    Column("message", String(1000), nullable=False),
    # References to evidence (photo ids, URLs) as a JSON list of strings.
    Column("evidence", Text, nullable=False),
    Column("seller_answer", String(1000), nullable=True),
    Column("answered_at", UtcDateTime, nullable=True),
    # withdrawn, release, refund or split; NULL while open.
    Column("outcome", String(16), nullable=True),
    Column("to_buyer", BigInteger, nullable=True),
    Column("to_seller", BigInteger, nullable=True),
    Column("note", String(1000), nullable=True),
    Column("opened_at", UtcDateTime, nullable=False),
    Column("closed_at", UtcDateTime, nullable=True),
    CheckConstraint(
        "outcome IS NULL OR outcome IN ('withdrawn', 'release', 'refund', 'split')",
        name="outcome_valid",
    ),
    CheckConstraint("(outcome IS NULL) = (closed_at IS NULL)", name="closed_iff_outcome"),
    CheckConstraint(
        "(to_buyer IS NULL OR to_buyer >= 0) AND (to_seller IS NULL OR to_seller >= 0)",
        name="parts_non_negative",
    ),
    Index("ix_escrow_disputes_order_id", "order_id"),
)
